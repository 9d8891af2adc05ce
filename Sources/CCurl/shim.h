#include <curl/curl.h>

// curl_easy_setopt / curl_multi_setopt are variadic: Swift cannot call
// them, so each argument type gets a typed wrapper.
typedef size_t (*dwc_curl_data_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode dwc_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode dwc_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode dwc_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode dwc_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode dwc_curl_setopt_callback(CURL *handle, CURLoption option, dwc_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLMcode dwc_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}
