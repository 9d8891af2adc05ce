// SHA-256 and HMAC-SHA256 (AWS Signature V4) from OpenSSL's libcrypto, loaded with dlopen on
// first use instead of linked, for the same reason as CCurl: only commands on URLs need it, and
// every linked library adds to the start-up of every dwc process.
#ifndef DWC_CCRYPTO_H
#define DWC_CCRYPTO_H

#include <stddef.h>
#include <stdint.h>

/// 0 and the 32-byte digest in `digest`; -1 when libcrypto cannot be loaded (it can whenever
/// libcurl can: Debian's libcurl4 depends on it).
int dwc_sha256(const uint8_t *data, size_t count, uint8_t digest[32]);
int dwc_hmac_sha256(const uint8_t *key, size_t key_count, const uint8_t *data, size_t count, uint8_t digest[32]);

#endif
