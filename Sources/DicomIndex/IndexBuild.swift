#if canImport(Glibc)
import Glibc
#endif

/// A new index built in a private file and published complete (ArchiveIndex.startBuilding).
///
/// Why: a first `dwc index` of an archive spent a third of its time on what an index that
/// already exists needs and a new one does not: every batch went through the WAL (written
/// there, copied into the index at the end, and the WAL then deleted, which on a file system
/// mounted with `discard` waits for the device). A new index is instead loaded in one
/// transaction without a journal into a hidden file beside its final name, then switched to
/// WAL, synced and renamed into place. Until then there is no index to find, rather than a
/// partial one.
///
/// Other dwc processes wait for the build: every creation of an index (this build, or an
/// ArchiveIndex opened with `create` where there is none) holds the build lock, a hidden file
/// beside the index, so the rename never replaces an index another process made.
struct IndexBuild {
    let temporaryPath: String
    let finalPath: String
    /// Held until the build is published or abandoned.
    let lock: BuildLock

    /// `path`'s directory and file name.
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }

    /// The hidden file a process builds the index `path` in (a hidden name: the archive walk
    /// skips it when the index lives inside the archive).
    static func temporaryPath(for path: String, pid: Int32) -> String {
        let (directory, name) = split(path)
        return "\(directory)/.\(name).building-\(pid)"
    }

    static func lockPath(for path: String) -> String {
        let (directory, name) = split(path)
        return "\(directory)/.\(name).lock"
    }

    /// Removes the build files of processes that are gone (killed during a build).
    static func removeAbandoned(for path: String) {
        let (directory, name) = split(path)
        let prefix = ".\(name).building-"
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let entryName = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            guard entryName.hasPrefix(prefix) else { continue }
            // ".index.sqlite.building-1234", or its "-wal"/"-journal" beside it.
            let digits = entryName.dropFirst(prefix.count).prefix { $0.isASCII && $0.isNumber }
            guard let pid = Int32(digits), pid != getpid() else { continue }
            if kill(pid, 0) != 0, errno == ESRCH {
                unlink("\(directory)/\(entryName)")
            }
        }
    }

    /// Makes the file's data durable (before it is renamed: a rename that survives a power cut
    /// must not name a file whose pages did not).
    static func sync(file path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw IndexError(.database, path: path, "cannot open to sync: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while fsync(fd) != 0 {
            guard errno == EINTR else { throw IndexError(.database, path: path, "fsync failed: \(String(cString: strerror(errno)))") }
        }
    }

    /// Makes the rename into `path`'s folder durable.
    static func sync(directoryOf path: String) {
        let fd = open(split(path).directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        // Some file systems cannot fsync a folder; the rename is then as durable as they make it.
        _ = fsync(fd)
        close(fd)
    }
}

/// An exclusive lock on a hidden file beside the index (flock), held by whoever creates the
/// index; released when this goes (or the process ends). nil where it cannot be had (a
/// read-only folder, a file system without flock): a new index is then made in place.
final class BuildLock {
    private let fd: Int32

    init?(indexPath: String) {
        fd = open(IndexBuild.lockPath(for: indexPath), O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                close(fd)
                return nil
            }
        }
    }

    deinit { close(fd) }
}

func fileExists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}
