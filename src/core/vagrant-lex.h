/* vmenv import: the tokens of a Vagrantfile for the literal parser. Only
 * the lexical forms common in Vagrantfiles are read exactly (strings,
 * heredocs, symbols, numbers, labels, %w lists); a string whose value
 * depends on running code (#{...}, unusual escapes) is marked unknown. */
#ifndef VMENV_VAGRANT_LEX_H
#define VMENV_VAGRANT_LEX_H

#include <stdbool.h>
#include <stddef.h>

enum vl_type {
        VL_EOF,
        VL_NL,     /* end of a statement (newline or ;) */
        VL_IDENT,  /* names, keywords, $globals, @ivars, Constants */
        VL_LABEL,  /* `key:` in a hash or keyword argument */
        VL_SYMBOL, /* :name or :"name" */
        VL_STRING,
        VL_NUMBER,
        VL_PUNCT, /* operators and brackets */
};

struct vl_token {
        enum vl_type type;
        char *text;   /* name, string value, number or operator */
        bool unknown; /* a string whose value needs running code */
        bool space_before;
        unsigned line;
        unsigned end_line; /* of a string or heredoc body spanning lines */
};

struct vl_tokens {
        struct vl_token *v;
        size_t n, cap;
};

/* Never fails: what it cannot read becomes punctuation the parser will not
 * understand. Limits: at most max_tokens tokens. */
void vl_lex(const char *text, size_t len, size_t max_tokens, struct vl_tokens *out);
void vl_tokens_free(struct vl_tokens *t);

#endif
