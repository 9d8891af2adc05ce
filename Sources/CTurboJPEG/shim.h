#include <turbojpeg.h>
#if __has_include(<jconfig.h>)
#include <jconfig.h>
#endif

/* libjpeg-turbo's version as MMMmmmppp (e.g. 2001005 for 2.1.5), 0 when <jconfig.h> (from
   libjpeg62-turbo-dev) is not installed: libturbojpeg 2.1 has no run-time version query. */
static inline int dwc_libjpeg_turbo_version_number(void) {
#ifdef LIBJPEG_TURBO_VERSION_NUMBER
    return LIBJPEG_TURBO_VERSION_NUMBER;
#else
    return 0;
#endif
}
