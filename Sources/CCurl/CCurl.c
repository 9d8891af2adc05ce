#include "CCurl.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

// The libcurl functions dwc uses, resolved from the loaded library.
static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_cleanup)(CURLM *);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_perform)(CURLM *, int *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned int, int, int *);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} curl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded = 0;
static char load_error[512] = "libcurl not loaded yet";

static void load(void) {
    // The SONAME of libcurl 7.16 and later (Debian: libcurl4); the unversioned name is the -dev link.
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) library = dlopen("libcurl.so", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *why = dlerror();
        snprintf(load_error, sizeof load_error, "cannot load libcurl (apt install libcurl4): %s", why ? why : "not found");
        return;
    }
#define RESOLVE(field, symbol)                                                                     \
    do {                                                                                           \
        *(void **)(&curl.field) = dlsym(library, symbol);                                          \
        if (curl.field == NULL) {                                                                  \
            snprintf(load_error, sizeof load_error, "libcurl lacks %s (too old?)", symbol);       \
            return;                                                                                \
        }                                                                                          \
    } while (0)
    RESOLVE(global_init, "curl_global_init");
    RESOLVE(easy_init, "curl_easy_init");
    RESOLVE(easy_cleanup, "curl_easy_cleanup");
    RESOLVE(easy_reset, "curl_easy_reset");
    RESOLVE(easy_strerror, "curl_easy_strerror");
    RESOLVE(easy_setopt, "curl_easy_setopt");
    RESOLVE(multi_init, "curl_multi_init");
    RESOLVE(multi_cleanup, "curl_multi_cleanup");
    RESOLVE(multi_add_handle, "curl_multi_add_handle");
    RESOLVE(multi_remove_handle, "curl_multi_remove_handle");
    RESOLVE(multi_perform, "curl_multi_perform");
    RESOLVE(multi_info_read, "curl_multi_info_read");
    RESOLVE(multi_poll, "curl_multi_poll");
    RESOLVE(multi_setopt, "curl_multi_setopt");
    RESOLVE(slist_append, "curl_slist_append");
    RESOLVE(slist_free_all, "curl_slist_free_all");
#undef RESOLVE
    loaded = 1;
    load_error[0] = 0;
}

int dwc_curl_load(void) {
    pthread_once(&load_once, load);
    return loaded ? 0 : -1;
}

const char *dwc_curl_load_error(void) {
    dwc_curl_load();
    return load_error;
}

CURLcode dwc_curl_global_init(long flags) { return dwc_curl_load() == 0 ? curl.global_init(flags) : CURLE_FAILED_INIT; }
CURL *dwc_curl_easy_init(void) { return dwc_curl_load() == 0 ? curl.easy_init() : NULL; }
void dwc_curl_easy_cleanup(CURL *handle) { if (loaded && handle) curl.easy_cleanup(handle); }
void dwc_curl_easy_reset(CURL *handle) { if (loaded && handle) curl.easy_reset(handle); }
const char *dwc_curl_easy_strerror(CURLcode code) { return loaded ? curl.easy_strerror(code) : load_error; }

CURLcode dwc_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return loaded ? curl.easy_setopt(handle, option, value) : CURLE_FAILED_INIT;
}
CURLcode dwc_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return loaded ? curl.easy_setopt(handle, option, value) : CURLE_FAILED_INIT;
}
CURLcode dwc_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return loaded ? curl.easy_setopt(handle, option, value) : CURLE_FAILED_INIT;
}
CURLcode dwc_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return loaded ? curl.easy_setopt(handle, option, value) : CURLE_FAILED_INIT;
}
CURLcode dwc_curl_setopt_callback(CURL *handle, CURLoption option, dwc_curl_data_callback value) {
    return loaded ? curl.easy_setopt(handle, option, value) : CURLE_FAILED_INIT;
}

CURLM *dwc_curl_multi_init(void) { return dwc_curl_load() == 0 ? curl.multi_init() : NULL; }
CURLMcode dwc_curl_multi_cleanup(CURLM *multi) { return loaded ? curl.multi_cleanup(multi) : CURLM_BAD_HANDLE; }
CURLMcode dwc_curl_multi_add_handle(CURLM *multi, CURL *handle) {
    return loaded ? curl.multi_add_handle(multi, handle) : CURLM_BAD_HANDLE;
}
CURLMcode dwc_curl_multi_remove_handle(CURLM *multi, CURL *handle) {
    return loaded ? curl.multi_remove_handle(multi, handle) : CURLM_BAD_HANDLE;
}
CURLMcode dwc_curl_multi_perform(CURLM *multi, int *running) {
    return loaded ? curl.multi_perform(multi, running) : CURLM_BAD_HANDLE;
}
CURLMsg *dwc_curl_multi_info_read(CURLM *multi, int *queued) {
    if (!loaded) { if (queued) *queued = 0; return NULL; }
    return curl.multi_info_read(multi, queued);
}
CURLMcode dwc_curl_multi_poll(CURLM *multi, struct curl_waitfd extra[], unsigned int count, int timeout_ms, int *ready) {
    return loaded ? curl.multi_poll(multi, extra, count, timeout_ms, ready) : CURLM_BAD_HANDLE;
}
CURLMcode dwc_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return loaded ? curl.multi_setopt(multi, option, value) : CURLM_BAD_HANDLE;
}

struct curl_slist *dwc_curl_slist_append(struct curl_slist *list, const char *text) {
    return dwc_curl_load() == 0 ? curl.slist_append(list, text) : NULL;
}
void dwc_curl_slist_free_all(struct curl_slist *list) { if (loaded && list) curl.slist_free_all(list); }
