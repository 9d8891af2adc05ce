// libcurl, loaded with dlopen on first use instead of linked.
//
// Why: Debian's libcurl pulls in about 30 shared libraries; linking it made every dwc process
// (dump, search, render of a local file) start about 8 ms later, while only commands on URLs use
// it (measured: an empty C program 0.8 ms, the same linked with -lcurl 9 ms). The types and
// constants still come from <curl/curl.h>; the functions dwc calls go through these wrappers,
// which are safe to call when libcurl could not be loaded (they return NULL or an error code).
#ifndef DWC_CCURL_H
#define DWC_CCURL_H

#include <stddef.h>
#include <curl/curl.h>

typedef size_t (*dwc_curl_data_callback)(char *data, size_t size, size_t count, void *context);

/// Loads libcurl once (thread-safe). 0 when ready; else -1, and dwc_curl_load_error() says why.
int dwc_curl_load(void);
const char *dwc_curl_load_error(void);

CURLcode dwc_curl_global_init(long flags);
CURL *dwc_curl_easy_init(void);
void dwc_curl_easy_cleanup(CURL *handle);
void dwc_curl_easy_reset(CURL *handle);
const char *dwc_curl_easy_strerror(CURLcode code);

// curl_easy_setopt / curl_multi_setopt are variadic: Swift cannot call them, so each argument
// type gets a typed wrapper.
CURLcode dwc_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode dwc_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode dwc_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode dwc_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode dwc_curl_setopt_callback(CURL *handle, CURLoption option, dwc_curl_data_callback value);

CURLM *dwc_curl_multi_init(void);
CURLMcode dwc_curl_multi_cleanup(CURLM *multi);
CURLMcode dwc_curl_multi_add_handle(CURLM *multi, CURL *handle);
CURLMcode dwc_curl_multi_remove_handle(CURLM *multi, CURL *handle);
CURLMcode dwc_curl_multi_perform(CURLM *multi, int *running);
CURLMsg *dwc_curl_multi_info_read(CURLM *multi, int *queued);
CURLMcode dwc_curl_multi_poll(CURLM *multi, struct curl_waitfd extra[], unsigned int count, int timeout_ms, int *ready);
CURLMcode dwc_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value);

struct curl_slist *dwc_curl_slist_append(struct curl_slist *list, const char *text);
void dwc_curl_slist_free_all(struct curl_slist *list);

#endif
