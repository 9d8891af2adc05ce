import CSQLite3
import DicomDeflate

/// Versions of the C libraries this build links, for `dwc --version` (as dcmtk prints its own).
public enum LinkedLibraries {
    public static var versions: [(name: String, version: String)] {
        [
            ("zlib", ZlibDeflateCodec.zlibVersion),
            ("SQLite", String(cString: sqlite3_libversion())),
        ]
    }
}
