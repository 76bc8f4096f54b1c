/* Internal to the core: hashing helpers shared by the fetcher and the box
 * store (digest.c). */
#pragma once

#include <openssl/evp.h>
#include <stdint.h>

#include "vmenv/error.h"

/* Lowercase hex of n bytes. */
char *vmenv_hex_of(const unsigned char *d, unsigned n);
/* The hex digest of what md has seen so far; md itself goes on. */
char *vmenv_md_final_hex(EVP_MD_CTX *md);
void vmenv_md_freep(EVP_MD_CTX **m);
/* Feeds [0, upto) of fd into md, and copies it to out when out >= 0. */
int vmenv_hash_fd(int fd, uint64_t upto, EVP_MD_CTX *md, int out, const char *path,
                  vmenv_error *err);
