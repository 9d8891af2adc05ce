import CCharLS
import COpenJPEG
import CPNG
import CTurboJPEG

/// Versions of the codec libraries this build links, for `dwc --version`.
public enum CodecLibraries {
    public static var versions: [(name: String, version: String)] {
        [
            ("OpenJPEG", String(cString: opj_version())),
            ("CharLS", charlsVersion),
            ("libpng", String(cString: png_get_libpng_ver(nil))),
        ]
    }

    private static var charlsVersion: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        charls_get_version_number(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}
