import DicomParser
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A failed system call on a path, with its errno.
public struct FileSystemError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let operation: String
    public let code: Int32

    public init(_ operation: String, _ path: String, code: Int32 = errno) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    /// No space, quota or file-size limit: the store reports these as 0xA700 (out of resources).
    public var isOutOfResources: Bool { code == ENOSPC || code == EDQUOT || code == EFBIG }

    public var description: String { "\(path): \(operation) failed: \(String(cString: strerror(code)))" }
}

/// Durable file writes: a temporary file in the destination folder (created with O_EXCL), written,
/// fsynced, renamed over or beside the final name, and the folder fsynced. A crash leaves either
/// the old state or the complete new file, plus possibly a `.dwc-tmp-*` file that later runs
/// remove (see `StoreJournal`).
public enum AtomicFile {
    /// Every temporary name starts with this; `FileWalker` skips it like every hidden name.
    public static let temporaryPrefix = ".dwc-tmp-"

    /// Writes `bytes` to `path` atomically and durably (for outputs of any command).
    public static func write(_ bytes: [UInt8], to path: String, permissions: mode_t = 0o644) throws {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        do {
            let directory = try Descriptor(open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC), "open", folder)
            let token = "w\(getpid())x\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
            var counter = 0
            let (file, temporary) = try createTemporary(in: directory.fd, token: token, next: { counter += 1; return counter },
                                                        permissions: permissions, folder: folder)
            do {
                try bytes.withUnsafeBytes { try writeAll(file.fd, $0, path: folder + "/" + temporary) }
                try sync(file.fd, path: folder + "/" + temporary)
                guard renameat(directory.fd, temporary, directory.fd, name) == 0 else { throw FileSystemError("rename", path) }
            } catch {
                unlinkat(directory.fd, temporary, 0)
                throw error
            }
            try sync(directory.fd, path: folder)
        } catch let error as FileSystemError {
            throw DwcError(.cannotWriteOutput, error.description)
        }
    }

    // MARK: Building blocks

    /// Creates `.dwc-tmp-<token>-<n>` with O_EXCL in a directory; returns it open for writing.
    static func createTemporary(in directory: Int32, token: String, next: () -> Int, permissions: mode_t = 0o644,
                                folder: String) throws -> (Descriptor, String) {
        while true {
            let name = "\(temporaryPrefix)\(token)-\(next())"
            let fd = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, permissions)
            if fd >= 0 { return (Descriptor(fd), name) }
            if errno == EEXIST { continue }
            throw FileSystemError("create temporary file", folder + "/" + name)
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystemError("write", path)
            }
            offset += n
        }
    }

    static func sync(_ fd: Int32, path: String) throws {
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            // Directories on some file systems cannot be fsynced; nothing more can be done there.
            if errno == EINVAL || errno == EROFS { return }
            throw FileSystemError("fsync", path)
        }
    }

    private typealias SyncFS = @convention(c) (Int32) -> Int32
    private static let syncFS: SyncFS? =
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syncfs").map { unsafeBitCast($0, to: SyncFS.self) }

    /// Whether `syncFileSystem` is available (Linux syncfs(2)).
    static var canSyncFileSystem: Bool { syncFS != nil }

    /// Makes everything written to the file system holding `fd` durable, data and names: one
    /// flush for a whole batch of files instead of one fsync per file and folder.
    static func syncFileSystem(_ fd: Int32, path: String) throws {
        guard let syncFS else { throw FileSystemError("syncfs", path, code: ENOSYS) }
        while syncFS(fd) != 0 {
            if errno == EINTR { continue }
            throw FileSystemError("syncfs", path)
        }
    }

    private typealias CopyFileRange = @convention(c) (Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32) -> Int
    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    // glibc has both since 2.27/2.28; Swift's Glibc module does not declare these GNU extensions.
    private static let copyFileRange: CopyFileRange? =
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "copy_file_range").map { unsafeBitCast($0, to: CopyFileRange.self) }
    private static let renameAt2: RenameAt2? =
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2").map { unsafeBitCast($0, to: RenameAt2.self) }

    /// Copies `length` bytes from the start of `source` to `destination` (in the kernel when the
    /// file system allows, else through a buffer). Fails when the source is shorter than `length`.
    static func copy(from source: Int32, to destination: Int32, length: Int64, sourcePath: String, destinationPath: String) throws {
        var copied: Int64 = 0
        if let copyFileRange {
            var inOffset: Int64 = 0, outOffset: Int64 = 0
            while copied < length {
                let n = copyFileRange(source, &inOffset, destination, &outOffset, Int(min(length - copied, 1 << 30)), 0)
                if n < 0 {
                    if errno == EINTR { continue }
                    if [EXDEV, ENOSYS, EINVAL, EOPNOTSUPP, EBADF, EPERM].contains(errno), copied == 0 { break }
                    throw FileSystemError("copy", destinationPath)
                }
                if n == 0 { throw FileSystemError("copy (source shrank)", sourcePath, code: EIO) }
                copied += Int64(n)
            }
            if copied == length { return }
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while copied < length {
            let want = Int(min(Int64(buffer.count), length - copied))
            let n = buffer.withUnsafeMutableBytes { pread(source, $0.baseAddress, want, off_t(copied)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystemError("read", sourcePath)
            }
            if n == 0 { throw FileSystemError("copy (source shrank)", sourcePath, code: EIO) }
            try buffer.withUnsafeBytes { try writeAll(destination, UnsafeRawBufferPointer(rebasing: $0[0..<n]), path: destinationPath) }
            copied += Int64(n)
        }
    }

    /// Moves a complete temporary file to its final name in the same directory. Without
    /// `replace`, an existing final name is left alone and false is returned (renameat2 with
    /// RENAME_NOREPLACE, else link + unlink, which is just as atomic).
    static func place(directory: Int32, temporary: String, final: String, replace: Bool, folder: String) throws -> Bool {
        if replace {
            guard renameat(directory, temporary, directory, final) == 0 else { throw FileSystemError("rename", folder + "/" + final) }
            return true
        }
        if let renameAt2 {
            if renameAt2(directory, temporary, directory, final, 1 /* RENAME_NOREPLACE */) == 0 { return true }
            if errno == EEXIST { return false }
            guard errno == EINVAL || errno == ENOSYS else { throw FileSystemError("rename", folder + "/" + final) }
        }
        if linkat(directory, temporary, directory, final, 0) != 0 {
            if errno == EEXIST { return false }
            throw FileSystemError("link", folder + "/" + final)
        }
        unlinkat(directory, temporary, 0)
        return true
    }

    /// Opens (creating when asked) the folder `components` below `base` without following
    /// symbolic links, so that a link planted inside the archive cannot lead a write outside it.
    /// A created folder's parent is fsynced (unless the caller syncs the whole file system later),
    /// so that the new entry is as durable as the file.
    static func openFolder(base: Int32, components: [String], create: Bool, basePath: String, syncCreated: Bool = true) throws -> Descriptor {
        var current: Descriptor?
        var path = basePath
        for component in components {
            let parent = current?.fd ?? base
            path += "/" + component
            var fd = openat(parent, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0, errno == ENOENT, create {
                if mkdirat(parent, component, 0o755) == 0 {
                    if syncCreated { try sync(parent, path: path) }
                } else if errno != EEXIST {
                    throw FileSystemError("create directory", path)
                }
                fd = openat(parent, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if fd < 0 {
                if errno == ELOOP || errno == ENOTDIR {
                    throw FileSystemError("open directory (a symbolic link or not a directory)", path)
                }
                throw FileSystemError("open directory", path)
            }
            current = Descriptor(fd)
        }
        return try current ?? Descriptor(dup(base), "dup", basePath)
    }

    /// Whether two open files have the same bytes.
    static func sameContent(_ a: Int32, _ b: Int32, pathA: String, pathB: String) throws -> Bool {
        var infoA = stat(), infoB = stat()
        guard fstat(a, &infoA) == 0 else { throw FileSystemError("stat", pathA) }
        guard fstat(b, &infoB) == 0 else { throw FileSystemError("stat", pathB) }
        if infoA.st_dev == infoB.st_dev, infoA.st_ino == infoB.st_ino { return true }
        guard infoA.st_size == infoB.st_size else { return false }
        var bufferA = [UInt8](repeating: 0, count: 1 << 18), bufferB = bufferA
        var offset: off_t = 0
        while offset < infoA.st_size {
            let want = Int(min(off_t(bufferA.count), infoA.st_size - offset))
            let na = try readFully(a, into: &bufferA, count: want, at: offset, path: pathA)
            let nb = try readFully(b, into: &bufferB, count: want, at: offset, path: pathB)
            guard na == want, nb == want, bufferA[0..<want] == bufferB[0..<want] else { return false }
            offset += off_t(want)
        }
        return true
    }

    /// Whether an open file holds exactly `bytes`.
    static func sameContent(_ fd: Int32, _ bytes: [UInt8], path: String) throws -> Bool {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileSystemError("stat", path) }
        guard Int(info.st_size) == bytes.count else { return false }
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        var offset = 0
        while offset < bytes.count {
            let want = min(buffer.count, bytes.count - offset)
            guard try readFully(fd, into: &buffer, count: want, at: off_t(offset), path: path) == want,
                  buffer[0..<want] == bytes[offset..<(offset + want)] else { return false }
            offset += want
        }
        return true
    }

    private static func readFully(_ fd: Int32, into buffer: inout [UInt8], count: Int, at offset: off_t, path: String) throws -> Int {
        var filled = 0
        while filled < count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + filled, count - filled, offset + off_t(filled)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystemError("read", path)
            }
            if n == 0 { break }
            filled += n
        }
        return filled
    }
}

/// An open file descriptor, closed when the last reference goes.
final class Descriptor: @unchecked Sendable {
    let fd: Int32
    init(_ fd: Int32) { self.fd = fd }

    /// Wraps the result of a call that returns a descriptor, throwing on -1.
    convenience init(_ fd: Int32, _ operation: String, _ path: String) throws {
        guard fd >= 0 else { throw FileSystemError(operation, path) }
        self.init(fd)
    }

    deinit { close(fd) }
}

/// A ByteSource over an open descriptor: what was parsed is what is copied, even if the path
/// is renamed meanwhile.
final class DescriptorByteSource: ByteSource, @unchecked Sendable {
    let descriptor: Descriptor
    let name: String
    let size: UInt64

    init(descriptor: Descriptor, name: String, size: UInt64) {
        self.descriptor = descriptor
        self.name = name
        self.size = size
    }

    func read(offset: UInt64, length: Int) throws -> [UInt8] {
        guard offset < size, length > 0 else { return [] }
        let count = Int(min(UInt64(length), size - offset))
        var filled = 0
        let result = try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            while filled < count {
                let n = pread(descriptor.fd, buffer.baseAddress! + filled, count - filled, off_t(offset) + off_t(filled))
                if n < 0 {
                    if errno == EINTR { continue }
                    let code = errno
                    initialized = filled
                    throw FileSystemError("read", name, code: code)
                }
                if n == 0 { break }
                filled += n
            }
            initialized = filled
        }
        return result
    }
}

/// The archive-wide lock of `dwc store` (`<archive>/.dwc/store/lock`, flock): held while a
/// process decides about duplicates, renames into the layout and writes index rows, and while
/// it recovers what dead processes left. Temporary files are written outside it, in parallel.
final class StoreLock: @unchecked Sendable {
    private let descriptor: Descriptor
    let path: String

    init(directory: String) throws {
        path = directory + "/lock"
        descriptor = try Descriptor(open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644), "open lock", path)
    }

    func withLock<T>(_ body: () throws -> T) throws -> T {
        while flock(descriptor.fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            throw FileSystemError("lock", path)
        }
        defer { flock(descriptor.fd, LOCK_UN) }
        return try body()
    }
}

/// One `dwc store` process's journal, `<archive>/.dwc/store/<token>.journal`, held with an
/// exclusive flock for the life of the process (the kernel drops it when the process dies, even
/// by SIGKILL). Temporary files are named `.dwc-tmp-<token>-<n>`, so a later process can tell a
/// dead owner's leftovers from a live one's. Lines (paths relative to the archive):
///   T <folder>   temporary files may be created in this folder (written before the first one)
///   P <path>     a batch is about to be renamed into place here (fdatasync before the renames)
///   R <path>     ... and this file is to go once the batch is committed (--on-duplicate replace)
///   C            the batch's index rows are committed
final class StoreJournal: @unchecked Sendable {
    let token: String
    let path: String
    private let descriptor: Descriptor
    private let folders = Mutex<Set<String>>([])

    static func directory(root: String) -> String { root + "/.dwc/store" }

    /// Creates and locks a new journal; call with the store lock held, so that no recovery
    /// mistakes it for a dead process's journal in between.
    init(directory: String) throws {
        while true {
            let token = "\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
            let path = directory + "/" + token + ".journal"
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
            if fd < 0, errno == EEXIST { continue }
            descriptor = try Descriptor(fd, "create journal", path)
            self.token = token
            self.path = path
            break
        }
        guard flock(descriptor.fd, LOCK_EX | LOCK_NB) == 0 else { throw FileSystemError("lock journal", path) }
    }

    private func append(_ text: String) throws {
        var text = text
        try text.withUTF8 { try AtomicFile.writeAll(descriptor.fd, UnsafeRawBufferPointer($0), path: path) }
    }

    /// Notes a folder before the first temporary file is made in it (from any thread).
    func noteTemporaryFolder(_ folder: String) throws {
        guard folders.withLock({ $0.insert(folder).inserted }) else { return }
        try append("T\t\(folder)\n")
    }

    /// Notes the renames and removals of a batch, durably, before any of them happens.
    func notePending(placements: [String], removals: [String]) throws {
        guard !placements.isEmpty || !removals.isEmpty else { return }
        try append(placements.map { "P\t\($0)\n" }.joined() + removals.map { "R\t\($0)\n" }.joined())
        while fdatasync(descriptor.fd) != 0 {
            if errno == EINTR { continue }
            throw FileSystemError("fsync", path)
        }
    }

    func noteCommitted() throws { try append("C\n") }

    /// Removes the journal at a normal end (the lock goes with the descriptor).
    func finish() { unlink(path) }

    /// A dead process's journal, read and locked by the recovering process.
    struct Abandoned {
        var token: String
        var path: String
        var temporaryFolders: [String] = []
        /// Placements and removals after the last commit mark.
        var pendingPlacements: [String] = []
        var pendingRemovals: [String] = []
        var lock: Descriptor
    }

    /// Journals whose owner is gone: those whose flock can be taken now.
    static func abandoned(directory: String, except own: String?) -> [Abandoned] {
        guard let dir = opendir(directory) else { return [] }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name.hasSuffix(".journal") { names.append(name) }
        }
        closedir(dir)
        var result: [Abandoned] = []
        for name in names.sorted() {
            let token = String(name.dropLast(".journal".count))
            if token == own { continue }
            let path = directory + "/" + name
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            let lock = Descriptor(fd)
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }  // alive
            var abandoned = Abandoned(token: token, path: path, lock: lock)
            var folders = Set<String>()
            let text = (try? readWhole(fd)) ?? []
            for line in text.split(separator: UInt8(ascii: "\n")) {
                let fields = line.split(separator: UInt8(ascii: "\t"), maxSplits: 1)
                let kind = fields.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
                let value = fields.count > 1 ? String(decoding: fields[1], as: UTF8.self) : ""
                switch kind {
                case "T": if folders.insert(value).inserted { abandoned.temporaryFolders.append(value) }
                case "P": abandoned.pendingPlacements.append(value)
                case "R": abandoned.pendingRemovals.append(value)
                case "C": abandoned.pendingPlacements = []; abandoned.pendingRemovals = []
                default: break
                }
            }
            result.append(abandoned)
        }
        return result
    }

    private static func readWhole(_ fd: Int32) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var offset: off_t = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if n < 0 { if errno == EINTR { continue }; throw FileSystemError("read", "journal") }
            if n == 0 { return result }
            result += chunk[0..<n]
            offset += off_t(n)
        }
    }

    /// Whether the owner of a temporary file name is gone: its journal unlocked or missing (a
    /// missing journal counts only for files not touched for `minimumAge` seconds, since other
    /// writers of `.dwc-tmp-` files keep no journal).
    static func ownerIsGone(temporaryName name: String, directory: String, modified: Int, now: Int, minimumAge: Int = 600) -> Bool {
        guard name.hasPrefix(AtomicFile.temporaryPrefix) else { return false }
        let rest = name.dropFirst(AtomicFile.temporaryPrefix.count)
        guard let dash = rest.lastIndex(of: "-") else { return now - modified > minimumAge }
        let token = String(rest[..<dash])
        let fd = open(directory + "/" + token + ".journal", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return now - modified > minimumAge }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return true
        }
        return false
    }

    /// Removes the temporary files of `token` in a folder below the archive root.
    static func removeTemporaries(of token: String, in folder: String, root: Int32, rootPath: String) -> Int {
        guard let directory = try? AtomicFile.openFolder(base: root, components: folder.split(separator: "/").map(String.init),
                                                          create: false, basePath: rootPath) else { return 0 }
        let prefix = AtomicFile.temporaryPrefix + token + "-"
        return removeEntries(in: directory) { $0.hasPrefix(prefix) }
    }

    /// Unlinks the entries of an open folder whose names satisfy `predicate`; returns how many.
    static func removeEntries(in directory: Descriptor, where predicate: (String) -> Bool) -> Int {
        let fd = dup(directory.fd)
        guard fd >= 0, let dir = fdopendir(fd) else { return 0 }
        rewinddir(dir)
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if predicate(name) { names.append(name) }
        }
        closedir(dir)
        var removed = 0
        for name in names where unlinkat(directory.fd, name, 0) == 0 { removed += 1 }
        return removed
    }
}
