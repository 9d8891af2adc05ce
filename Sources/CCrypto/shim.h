// OpenSSL's libcrypto, for SHA-256 and HMAC-SHA256 in AWS Signature V4.
#include <openssl/sha.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>
