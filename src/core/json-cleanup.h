/* json-c objects released at the end of a scope:
 * _cleanup_(json_putp) json_object *o = ...; */
#ifndef VMENV_JSON_CLEANUP_H
#define VMENV_JSON_CLEANUP_H

#include <json-c/json.h>

static inline void json_putp(json_object **o)
{
        if (*o)
                json_object_put(*o);
}

#endif
