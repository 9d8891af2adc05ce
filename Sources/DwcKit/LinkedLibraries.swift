import DicomCodecs
import DicomDeflate
import DicomIndex

/// Versions of the C libraries this build links, for `dwc --version` (as dcmtk prints its own).
public enum LinkedLibraries {
    public static var versions: [(name: String, version: String)] {
        [
            ("zlib", ZlibDeflateCodec.zlibVersion),
            ("SQLite", SQLiteDatabase.libraryVersion),
        ] + CodecLibraries.versions
    }
}
