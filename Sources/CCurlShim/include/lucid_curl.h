#ifndef LUCID_CURL_H
#define LUCID_CURL_H

#include <curl/curl.h>
#include <stddef.h>

/* Typed wrappers around libcurl's variadic entry points, which Swift cannot call.
 * One function per argument kind; each returns libcurl's own code unchanged. */

/* A write or header callback: (data, size, nmemb, userdata) -> bytes taken. */
typedef size_t (*lucid_curl_data_callback)(char *data, size_t size, size_t nmemb, void *userdata);

/* curl_easy_setopt with a long argument (flags, numbers, enums). */
CURLcode lucid_curl_easy_setopt_long(CURL *handle, CURLoption option, long value);
/* curl_easy_setopt with a curl_off_t argument (large sizes). */
CURLcode lucid_curl_easy_setopt_off(CURL *handle, CURLoption option, curl_off_t value);
/* curl_easy_setopt with a pointer argument: strings (libcurl copies them), slists, userdata. */
CURLcode lucid_curl_easy_setopt_pointer(CURL *handle, CURLoption option, const void *value);
/* curl_easy_setopt with a struct curl_blob built here; CURL_BLOB_COPY, so the caller keeps ownership. */
CURLcode lucid_curl_easy_setopt_blob(CURL *handle, CURLoption option, const void *data, size_t length);
/* curl_easy_setopt for CURLOPT_WRITEFUNCTION / CURLOPT_HEADERFUNCTION. */
CURLcode lucid_curl_easy_setopt_data_callback(CURL *handle, CURLoption option, lucid_curl_data_callback callback);

/* curl_easy_getinfo for long, curl_off_t and string results. */
CURLcode lucid_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode lucid_curl_easy_getinfo_off(CURL *handle, CURLINFO info, curl_off_t *value);
CURLcode lucid_curl_easy_getinfo_string(CURL *handle, CURLINFO info, char **value);

/* curl_multi_setopt with a long argument. */
CURLMcode lucid_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value);

/* Macros Swift does not import. */
static const size_t LUCID_CURL_WRITEFUNC_PAUSE = CURL_WRITEFUNC_PAUSE;
static const int LUCID_CURLPAUSE_CONT = CURLPAUSE_CONT;
static const long LUCID_CURLPIPE_MULTIPLEX = CURLPIPE_MULTIPLEX;

#endif
