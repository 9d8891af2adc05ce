#if canImport(Glibc)
import Glibc
#endif

/// The archive root and its index file, as every command resolves them: `-A/--archive`, else
/// DWC_ARCHIVE, else "."; the index at `<archive>/.dwc/index.sqlite` unless `--index`.
public struct ArchiveLocation: Sendable {
    public let root: String
    public let indexPath: String
    /// `root` with one trailing slash: what stored paths are relative to.
    private let rootPrefix: String

    public init(archive: String?, index: String?) {
        let environment = getenv("DWC_ARCHIVE").map { String(cString: $0) }
        root = absolutePath(archive ?? environment.flatMap { $0.isEmpty ? nil : $0 } ?? ".")
        indexPath = index ?? root + "/.dwc/index.sqlite"
        rootPrefix = root.hasSuffix("/") ? root : root + "/"
    }

    /// How a file's path is stored: relative to the root when inside it, else absolute; a URL as written.
    public func storedPath(forAbsolute path: String) -> String {
        if RemoteAccess.isRemote(path) { return path }
        // On UTF-8 bytes: an index run calls this for every file, and Character counting and
        // prefix checks were a few percent of a re-run.
        let prefix = rootPrefix.utf8.count
        guard path.utf8.count > prefix, Self.bytes(of: path, startWith: rootPrefix) else { return path }
        return String(Substring(path.utf8.dropFirst(prefix)))
    }

    /// A prefix test by memcmp on native strings (a generic `starts(with:)` over the UTF-8 view
    /// walked it byte by byte: 1,500 instructions per file of a re-run).
    private static func bytes(of text: String, startWith prefix: String) -> Bool {
        let fast = text.utf8.withContiguousStorageIfAvailable { bytes in
            prefix.utf8.withContiguousStorageIfAvailable { head in
                head.count <= bytes.count && (head.isEmpty || memcmp(bytes.baseAddress!, head.baseAddress!, head.count) == 0)
            }
        }
        return (fast ?? nil) ?? text.utf8.starts(with: prefix.utf8)
    }

    /// The absolute path of a stored path (a URL as it is).
    public func absolute(_ stored: String) -> String {
        stored.hasPrefix("/") || RemoteAccess.isRemote(stored) ? stored : rootPrefix + stored
    }

    /// Creates the folder of the index file when it is the default one.
    func prepareIndexDirectory() throws {
        let directory = String(indexPath[..<(indexPath.lastIndex(of: "/") ?? indexPath.startIndex)])
        if !directory.isEmpty { try makeDirectories(directory) }
    }
}
