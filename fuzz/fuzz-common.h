/*
 * What the fuzz targets, the replay driver and the corpus generator share.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_FUZZ_COMMON_H
#define LS11_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* The libFuzzer entry point each target defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant in a harness: crash so that the fuzzer (or the replay test) reports it. */
#define FUZZ_CHECK(expr)                                                                          \
	do {                                                                                      \
		if (!(expr))                                                                      \
			abort();                                                                  \
	} while (0)

/*
 * fuzz-record: the fixed SESPAKE key and nonces of the channel whose server end opens the
 * input's records, and its epoch length (small, so that a short input crosses epochs).  The
 * seed corpus is sealed with these (fuzz/gen-corpus.c); change them and regenerate it.
 */
static const uint8_t fuzz_record_key[32] = {
	0x4c, 0x53, 0x31, 0x31, 0x43, 0x4c, 0x4f, 0x55, 0x44, 0x20, 0x66, 0x75, 0x7a, 0x7a, 0x20, 0x6b,
	0x65, 0x79, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
};
static const uint8_t fuzz_client_nonce[16] = {
	0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1,
};
static const uint8_t fuzz_server_nonce[16] = {
	0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e,
};
#define FUZZ_RECORD_EPOCH_BITS 2

#endif /* LS11_FUZZ_COMMON_H */
