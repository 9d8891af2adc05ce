#include "CCrypto.h"
#include <dlfcn.h>
#include <pthread.h>

typedef struct evp_md_st EVP_MD;

static struct {
    unsigned char *(*sha256)(const unsigned char *, size_t, unsigned char *);
    const EVP_MD *(*evp_sha256)(void);
    unsigned char *(*hmac)(const EVP_MD *, const void *, int, const unsigned char *, size_t, unsigned char *, unsigned int *);
} crypto;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded = 0;

static void load(void) {
    void *library = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) library = dlopen("libcrypto.so", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) return;
    *(void **)(&crypto.sha256) = dlsym(library, "SHA256");
    *(void **)(&crypto.evp_sha256) = dlsym(library, "EVP_sha256");
    *(void **)(&crypto.hmac) = dlsym(library, "HMAC");
    loaded = crypto.sha256 && crypto.evp_sha256 && crypto.hmac;
}

int dwc_sha256(const uint8_t *data, size_t count, uint8_t digest[32]) {
    pthread_once(&load_once, load);
    if (!loaded) return -1;
    return crypto.sha256(data, count, digest) ? 0 : -1;
}

int dwc_hmac_sha256(const uint8_t *key, size_t key_count, const uint8_t *data, size_t count, uint8_t digest[32]) {
    pthread_once(&load_once, load);
    if (!loaded || key_count > 0x7fffffff) return -1;
    unsigned int length = 0;
    unsigned char *result = crypto.hmac(crypto.evp_sha256(), key, (int)key_count, data, count, digest, &length);
    return result && length == 32 ? 0 : -1;
}
