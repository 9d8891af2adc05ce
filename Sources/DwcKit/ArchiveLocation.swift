#if canImport(Glibc)
import Glibc
#endif

/// The archive root and its index file, as every command resolves them: `-A/--archive`, else
/// DWC_ARCHIVE, else "."; the index at `<archive>/.dwc/index.sqlite` unless `--index`.
public struct ArchiveLocation: Sendable {
    public let root: String
    public let indexPath: String

    public init(archive: String?, index: String?) {
        let environment = getenv("DWC_ARCHIVE").map { String(cString: $0) }
        root = absolutePath(archive ?? environment.flatMap { $0.isEmpty ? nil : $0 } ?? ".")
        indexPath = index ?? root + "/.dwc/index.sqlite"
    }

    /// How a file's path is stored: relative to the root when inside it, else absolute; a URL as written.
    public func storedPath(forAbsolute path: String) -> String {
        if RemoteAccess.isRemote(path) { return path }
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    /// The absolute path of a stored path (a URL as it is).
    public func absolute(_ stored: String) -> String {
        stored.hasPrefix("/") || RemoteAccess.isRemote(stored) ? stored : (root.hasSuffix("/") ? root : root + "/") + stored
    }

    /// Creates the folder of the index file when it is the default one.
    func prepareIndexDirectory() throws {
        let directory = String(indexPath[..<(indexPath.lastIndex(of: "/") ?? indexPath.startIndex)])
        if !directory.isEmpty { try makeDirectories(directory) }
    }
}
