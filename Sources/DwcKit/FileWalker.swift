#if canImport(Glibc)
import Glibc
#endif

/// A file found by a walk, with the stat fields incremental indexing compares.
public struct FoundFile: Sendable {
    public var path: String
    public var size: Int64
    public var mtimeNanoseconds: Int64
    public var inode: Int64
}

/// Lists regular files under paths: recursive, hidden entries (and so `.dwc`) skipped, sorted
/// for a deterministic order, symlinks followed only on request (with loop detection), and
/// include/exclude globs matched against the file name and the path.
public struct FileWalker: Sendable {
    public var followSymlinks = false
    public var include: [String] = []
    public var exclude: [String] = []

    public init(followSymlinks: Bool = false, include: [String] = [], exclude: [String] = []) {
        self.followSymlinks = followSymlinks
        self.include = include
        self.exclude = exclude
    }

    /// Unreadable directories, reported by the walk.
    public struct Problem: Sendable { public var path: String; public var message: String }

    public func walk(_ paths: [String]) -> (files: [FoundFile], problems: [Problem]) {
        var files: [FoundFile] = []
        let problems = walk(paths) { files.append($0) }
        return (files, problems)
    }

    /// The same walk, handing each file to `found` as soon as it is seen (in the same order).
    public func walk(_ paths: [String], found: (FoundFile) -> Void) -> [Problem] {
        var problems: [Problem] = []
        var visited = Set<DirectoryID>()
        for path in paths { walk(path, explicit: true, found: found, problems: &problems, visited: &visited) }
        return problems
    }

    public static func regularFiles(under paths: [String]) -> [String] {
        FileWalker().walk(paths).files.map(\.path)
    }

    private struct DirectoryID: Hashable { var device: UInt64; var inode: UInt64 }

    private func walk(_ path: String, explicit: Bool, found: (FoundFile) -> Void, problems: inout [Problem], visited: inout Set<DirectoryID>) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            problems.append(Problem(path: path, message: String(cString: strerror(errno))))
            return
        }
        if (info.st_mode & S_IFMT) == S_IFLNK {
            // Paths named on the command line are followed like `find -H`; links inside the tree
            // only with --follow-symlinks.
            guard explicit || followSymlinks, stat(path, &info) == 0 else { return }
        }
        visit(path, info, found: found, problems: &problems, visited: &visited)
    }

    private func visit(_ path: String, _ info: stat, found: (FoundFile) -> Void, problems: inout [Problem],
                       visited: inout Set<DirectoryID>) {
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            guard accepts(path) else { return }
            found(FoundFile(path: path, size: Int64(info.st_size),
                            mtimeNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                            inode: Int64(bitPattern: UInt64(info.st_ino))))
        case S_IFDIR:
            let id = DirectoryID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
            guard visited.insert(id).inserted else { return }  // a symlink loop
            listDirectory(path, found: found, problems: &problems, visited: &visited)
        default:
            break
        }
    }

    /// The entries of a directory in name order. Each is stat'ed relative to the directory
    /// (fstatat: the kernel does not walk the whole path again), and subdirectories reached
    /// without following a link are not stat'ed at all (readdir's d_type says what they are;
    /// without links there is no loop to detect): the walk of a 5,000-file archive made 8,600
    /// stat calls by full path before.
    private func listDirectory(_ path: String, found: (FoundFile) -> Void, problems: inout [Problem],
                               visited: inout Set<DirectoryID>) {
        guard let dir = opendir(path) else {
            problems.append(Problem(path: path, message: "cannot read directory: \(String(cString: strerror(errno)))"))
            return
        }
        defer { closedir(dir) }
        var entries: [(name: String, type: UInt8)] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name.hasPrefix(".") { continue }
            entries.append((name, entry.pointee.d_type))
        }
        entries.sort { $0.name < $1.name }
        let base = path.hasSuffix("/") ? path : path + "/"
        let fd = dirfd(dir)
        for (name, type) in entries {
            let child = base + name
            if type == UInt8(DT_DIR), !followSymlinks {
                listDirectory(child, found: found, problems: &problems, visited: &visited)
                continue
            }
            var info = stat()
            guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                problems.append(Problem(path: child, message: String(cString: strerror(errno))))
                continue
            }
            if (info.st_mode & S_IFMT) == S_IFLNK {
                guard followSymlinks, fstatat(fd, name, &info, 0) == 0 else { continue }
            }
            visit(child, info, found: found, problems: &problems, visited: &visited)
        }
    }

    func accepts(_ path: String) -> Bool {
        if include.isEmpty, exclude.isEmpty { return true }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        func matches(_ pattern: String) -> Bool {
            fnmatch(pattern, name, 0) == 0 || fnmatch(pattern, path, 0) == 0
        }
        if !include.isEmpty, !include.contains(where: matches) { return false }
        return !exclude.contains(where: matches)
    }
}

/// stat(2) of one path as a FoundFile; nil when it is not a readable regular file.
public func statFile(_ path: String) -> FoundFile? {
    var info = stat()
    guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    return FoundFile(path: path, size: Int64(info.st_size),
                     mtimeNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                     inode: Int64(bitPattern: UInt64(info.st_ino)))
}

/// The absolute, symlink-free form of a path (realpath), or the path made absolute.
public func absolutePath(_ path: String) -> String {
    if let resolved = realpath(path, nil) {
        defer { free(resolved) }
        return String(cString: resolved)
    }
    return path.hasPrefix("/") ? path : currentDirectory() + "/" + path
}

/// Whether `path` is a directory this process may create files in.
public func isWritableDirectory(_ path: String) -> Bool {
    isDirectory(path) && access(path, W_OK) == 0
}
