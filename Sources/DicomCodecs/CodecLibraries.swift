import CCharLS
import COpenJPEG
import CPNG
import CTurboJPEG

/// Versions of the codec libraries this build links, for `dwc --version`.
public enum CodecLibraries {
    public static var versions: [(name: String, version: String)] {
        [
            ("libjpeg-turbo", libjpegTurboVersion),
            ("OpenJPEG", String(cString: opj_version())),
            ("CharLS", charlsVersion),
            ("libpng", String(cString: png_get_libpng_ver(nil))),
        ]
    }

    /// From LIBJPEG_TURBO_VERSION_NUMBER (MMMmmmppp) of the <jconfig.h> compiled against:
    /// libturbojpeg 2.1 has no run-time version call. "unknown" without that header.
    private static var libjpegTurboVersion: String {
        let number = Int(dwc_libjpeg_turbo_version_number())
        guard number > 0 else { return "unknown" }
        return "\(number / 1_000_000).\(number / 1_000 % 1_000).\(number % 1_000)"
    }

    private static var charlsVersion: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        dwc_charls_version(&major, &minor, &patch)
        return major == 0 ? "not loadable" : "\(major).\(minor).\(patch)"
    }
}
