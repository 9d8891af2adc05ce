import DicomCore
import DicomIndex
import DicomParser
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `dwc store`: validates DICOM files and puts them into the archive's layout atomically and
/// durably, then records them in the index; answers with a STOW-RS style report.
///
/// Per batch of inputs:
///  1. parse and validate, in parallel (nothing written);
///  2. look the SOP Instance UIDs up in the index (duplicates of stored files need no writing);
///  3. write each new file to `.dwc-tmp-<token>-<n>` in its destination folder (O_EXCL) and
///     fsync it, in parallel;
///  4. under the archive's store lock: decide duplicates again, note the renames in the journal
///     (fdatasync), rename into place without replacing (unless --on-duplicate replace), fsync the
///     folders, write the index rows in one transaction (synchronous=FULL), mark the journal.
/// A crash anywhere leaves each instance either absent or complete; the next store (or index)
/// removes a dead process's temporary files and indexes its renamed-but-unrecorded files.
public struct StoreOperation: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        case copy, move, hardlink
    }

    public enum DuplicatePolicy: String, Sendable, CaseIterable {
        case reject, skip, replace
    }

    public var location: ArchiveLocation
    /// Files and directories to store; "-" is a Part 10 stream on stdin.
    public var paths: [String] = []
    /// Explicit file list (--files-from).
    public var fileList: [String]?
    public var walker = FileWalker()
    public var mode = Mode.copy
    public var layout = StoreLayout.standard
    public var onDuplicate = DuplicatePolicy.reject
    /// Store data sets without file meta, writing a meta header for them.
    public var addMeta = false
    /// Reject files with defects that lenient reading tolerates.
    public var strict = false
    /// Parallel parsers.
    public var jobs = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    /// Parallel writers: fsync waits on the disk, not the CPU, and concurrent fsyncs share commits.
    public var writers = 16
    /// Inputs per batch (each holds its input open until committed; two batches are in flight).
    public var batchSize = 1024
    /// From this many new files in a batch on, the batch is made durable with one syncfs(2) of the
    /// file system after writing and one after renaming, instead of an fsync per file and folder.
    public var syncFileSystemFrom = 16

    public init(location: ArchiveLocation) { self.location = location }

    public struct Reporter: Sendable {
        public var problem: @Sendable (String) -> Void
        public var warning: @Sendable (String) -> Void
        public var progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?
        public var debug: (@Sendable (String) -> Void)?
        public init(problem: @escaping @Sendable (String) -> Void, warning: @escaping @Sendable (String) -> Void,
                    progress: (@Sendable (Int, Int) -> Void)? = nil, debug: (@Sendable (String) -> Void)? = nil) {
            self.problem = problem
            self.warning = warning
            self.progress = progress
            self.debug = debug
        }
    }

    // MARK: Inputs

    enum Input: Sendable {
        /// A file; `explicit` when named (not found by a walk): not-DICOM is then a failure.
        case file(path: String, explicit: Bool)
        case standardInput
        case unreadable(path: String, message: String)
    }

    func inputs(reporter: Reporter) -> [Input] {
        var result: [Input] = []
        if let fileList {
            for path in fileList {
                result.append(statFile(path) != nil ? .file(path: path, explicit: true)
                              : .unreadable(path: path, message: "\(path): not a readable regular file"))
            }
        }
        var sawStandardInput = false
        for path in paths {
            if path == "-" {
                if !sawStandardInput { result.append(.standardInput) }
                sawStandardInput = true
            } else if statFile(path) != nil {
                result.append(.file(path: path, explicit: true))
            } else if isDirectory(path) {
                let walk = walker.walk([path])
                result += walk.files.map { .file(path: $0.path, explicit: false) }
                result += walk.problems.map { .unreadable(path: $0.path, message: "\($0.path): \($0.message)") }
            } else {
                var info = stat()
                let message = stat(path, &info) == 0 ? "not a regular file or directory" : String(cString: strerror(errno))
                result.append(.unreadable(path: path, message: "\(path): \(message)"))
            }
        }
        return result
    }

    // MARK: Running

    public func run(reporter: Reporter) throws -> StoreReport {
        let start = monotonicSeconds()
        // Past RLIMIT_FSIZE, write(2) is to fail with EFBIG (reported as out of resources), not kill us.
        signal(SIGXFSZ, SIG_IGN)
        let root = location.root
        if !isDirectory(root) { try makeDirectories(root) }
        guard isWritableDirectory(root) else { throw DwcError(.badOutputDirectory, "\(root): the archive folder is not writable") }
        try location.prepareIndexDirectory()
        let index: ArchiveIndex
        do {
            index = try ArchiveIndex(path: location.indexPath, create: true)
            // A committed row must survive a power cut (WAL's NORMAL would only keep it consistent).
            try index.database.execute("PRAGMA synchronous=FULL")
        } catch {
            throw DwcError(error)
        }
        let journalDirectory = StoreJournal.directory(root: root)
        try makeDirectories(journalDirectory)
        let rootFolder: Descriptor
        let lock: StoreLock
        let journal: StoreJournal
        do {
            rootFolder = try Descriptor(open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), "open", root)
            lock = try StoreLock(directory: journalDirectory)
            journal = try lock.withLock {
                if let warning = try Self.recover(location: location, root: rootFolder, index: index).warning {
                    reporter.warning(warning)
                }
                return try StoreJournal(directory: journalDirectory)
            }
        } catch let error as FileSystemError {
            throw DwcError(.badOutputDirectory, error.description)
        }
        // Left in place if the run ends by an error, for the next run to recover from.
        var finished = false
        defer { if finished { journal.finish() } }

        let inputs = inputs(reporter: reporter)
        reporter.debug?("\(inputs.count) inputs found in \(String(format1: (monotonicSeconds() - start) * 1000)) ms")
        var results: [StoreResult?] = Array(repeating: nil, count: inputs.count)
        let context = Context(operation: self, root: rootFolder, journal: journal)
        // Steps 1–3 of the next batch run on their own connection while this batch commits.
        let lookup: StoredPaths
        let committed: StoredPaths
        do {
            lookup = StoredPaths(try SQLiteDatabase(path: location.indexPath, readOnly: false))
            committed = StoredPaths(index.database)
        } catch {
            throw DwcError(error)
        }
        var timings = (parse: 0.0, write: 0.0, commit: 0.0)
        let perBatch = Self.batchSizeWithinDescriptorLimit(batchSize)
        let ranges = stride(from: 0, to: inputs.count, by: perBatch).map { $0..<min($0 + perBatch, inputs.count) }
        let ahead = Mutex<PreparedBatch?>(nil)
        let group = DispatchGroup()
        var next: PreparedBatch? = ranges.isEmpty ? nil : prepareBatch(ranges[0], inputs: inputs, context: context, lookup: lookup)
        for (number, range) in ranges.enumerated() {
            guard let batch = next else { break }
            if number + 1 < ranges.count {
                let following = ranges[number + 1]
                group.enter()
                DispatchQueue.global().async {
                    let prepared = self.prepareBatch(following, inputs: inputs, context: context, lookup: lookup)
                    ahead.withLock { $0 = prepared }
                    group.leave()
                }
            }
            for (position, result) in batch.done { results[position] = result }
            timings.parse += batch.parseTime
            timings.write += batch.writeTime
            // 4. Into place, durably, and into the index.
            let t = monotonicSeconds()
            do {
                try lock.withLock { try context.commit(batch.candidates, index: index, committed: committed, wholeFileSystem: batch.wholeFileSystem) }
            } catch {
                group.wait()
                throw error is FileSystemError ? DwcError(.cannotWriteOutput, "\(error)") : DwcError(error)
            }
            timings.commit += monotonicSeconds() - t
            for candidate in batch.candidates {
                if let defects = candidate.defects { reporter.warning(defects) }
                if mode == .move, let result = candidate.result { context.removeSource(of: candidate, result: result, reporter: reporter) }
                candidate.discardTemporary()
                candidate.release()
                results[candidate.position] = candidate.result
            }
            for result in results[range].compactMap({ $0 }) {
                switch result.outcome {
                case .failed: reporter.problem(result.message ?? result.source)
                case .ignored: reporter.warning(result.message ?? result.source)
                default: if result.warning != nil, let message = result.message { reporter.warning(message) }
                }
            }
            reporter.progress?(range.upperBound, inputs.count)
            group.wait()
            next = ahead.withLock { value in defer { value = nil }; return value }
        }
        finished = true
        let steps = zip(["journal", "rename", "sync", "index"], context.commitTimes).map { "\($0) \(String(format1: $1 * 1000))" }
        reporter.debug?("parse \(String(format1: timings.parse * 1000)) ms, write \(String(format1: timings.write * 1000)) ms, "
                        + "commit \(String(format1: timings.commit * 1000)) ms (\(steps.joined(separator: ", ")) ms)")
        return StoreReport(results: results.map { $0! }, elapsedSeconds: monotonicSeconds() - start)
    }

    /// Raises the soft limit of open files to the hard one, and keeps two batches of open inputs
    /// and folders (plus the folder cache, the index and the journal) within it.
    static func batchSizeWithinDescriptorLimit(_ wanted: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return min(wanted, 256) }
        if limit.rlim_cur < limit.rlim_max {
            let raised = rlimit(rlim_cur: min(limit.rlim_max, 1 << 20), rlim_max: limit.rlim_max)
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), [raised]) == 0 { limit = raised }
        }
        // Per input in flight: its own descriptor and, at worst, its folder's; libdispatch aborts
        // when it finds no descriptor left for itself, so there must always be some to spare.
        let spare = Int(min(limit.rlim_cur, 1 << 20)) - Context.folderCacheLimit - 64
        return max(1, min(wanted, spare / 4))
    }

    /// Steps 1–3 of a batch: parse and validate, look up, write temporary files and make them
    /// durable. Runs on one thread at a time (its own index connection), beside a commit.
    func prepareBatch(_ range: Range<Int>, inputs: [Input], context: Context, lookup: StoredPaths) -> PreparedBatch {
        let batch = PreparedBatch()
        // 1. Parse and validate.
        var t = monotonicSeconds()
        let examined = Mutex<[Examined?]>(Array(repeating: nil, count: range.count))
        parallel(range.count, workers: jobs) { i in
            let result = context.examine(inputs[range.lowerBound + i], position: range.lowerBound + i)
            examined.withLock { $0[i] = result }
        }
        for case let item? in examined.withLock({ $0 }) {
            switch item {
            case .done(let position, let result): batch.done.append((position, result))
            case .candidate(let candidate): batch.candidates.append(candidate)
            }
        }
        batch.parseTime = monotonicSeconds() - t
        // 2. What the index has already (checked again when committing).
        for candidate in batch.candidates {
            if let existing = lookup.path(sopUID: candidate.sop), statFile(location.absolute(existing)) != nil {
                candidate.existing = existing
            }
        }
        // 3. Compare with stored files, or write temporary files; make them durable.
        t = monotonicSeconds()
        let candidates = batch.candidates
        let toWrite = candidates.filter { $0.existing == nil || onDuplicate == .replace }.count
        let wholeFileSystem = toWrite >= syncFileSystemFrom && AtomicFile.canSyncFileSystem
        batch.wholeFileSystem = wholeFileSystem
        parallel(candidates.count, workers: wholeFileSystem ? jobs : writers) { i in
            context.prepare(candidates[i], syncEachFile: !wholeFileSystem)
        }
        if wholeFileSystem { context.syncFileSystems(of: candidates.filter { $0.temporary != nil }) }
        batch.writeTime = monotonicSeconds() - t
        return batch
    }

    // MARK: Recovery

    /// What recovery did.
    public struct Recovery: Sendable {
        public var temporaries = 0
        public var reconciled = 0

        /// The warning to give when the recovery did anything; nil when there was nothing to do.
        public var warning: String? {
            guard temporaries + reconciled > 0 else { return nil }
            return "recovered after an interrupted store: removed \(temporaries) temporary files, indexed \(reconciled) stored files"
        }
    }

    /// Cleans up after `dwc store` processes that died: removes their temporary files and indexes
    /// the files they renamed into place but did not record (finishing a replacement they began).
    /// `dwc index` may call this too. Takes the store lock.
    public static func recoverAbandonedStores(location: ArchiveLocation, index: ArchiveIndex) throws -> Recovery {
        let directory = StoreJournal.directory(root: location.root)
        guard isDirectory(directory) else { return Recovery() }
        do {
            let root = try Descriptor(open(location.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), "open", location.root)
            return try StoreLock(directory: directory).withLock { try recover(location: location, root: root, index: index) }
        } catch let error as FileSystemError {
            throw DwcError(.cannotWriteOutput, error.description)
        }
    }

    /// Whether a `.dwc-tmp-*` file found in the archive was left by a process that is gone (for
    /// `dwc index`, which may then remove it).
    public static func isAbandonedTemporary(_ path: String, location: ArchiveLocation) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return false }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return StoreJournal.ownerIsGone(temporaryName: name, directory: StoreJournal.directory(root: location.root),
                                        modified: Int(info.st_mtim.tv_sec), now: Int(now.tv_sec))
    }

    /// Recovery with the lock held.
    static func recover(location: ArchiveLocation, root: Descriptor, index: ArchiveIndex) throws -> Recovery {
        var recovery = Recovery()
        for abandoned in StoreJournal.abandoned(directory: StoreJournal.directory(root: location.root), except: nil) {
            for folder in abandoned.temporaryFolders {
                recovery.temporaries += StoreJournal.removeTemporaries(of: abandoned.token, in: folder, root: root.fd, rootPath: location.root)
            }
            let removals = Set(abandoned.pendingRemovals)
            for path in abandoned.pendingPlacements {
                let absolute = location.absolute(path)
                guard let found = statFile(absolute), try index.instance(storedPath: path) == nil else { continue }
                guard let record = try? Self.record(of: absolute, storedPath: path, found: found) else { continue }
                let outcome = try index.record([.instance(record)]) { stored in
                    !removals.contains(stored) && statFile(location.absolute(stored)) != nil
                }
                if outcome.first != .other { recovery.reconciled += 1 }
            }
            for path in abandoned.pendingRemovals {
                // The replaced file goes once the index has its successor elsewhere.
                let absolute = location.absolute(path)
                guard let found = statFile(absolute), try index.instance(storedPath: path) == nil,
                      let record = try? Self.record(of: absolute, storedPath: path, found: found),
                      let successor = try index.instance(sopUID: record.sopUID), successor.path != path,
                      statFile(location.absolute(successor.path)) != nil else { continue }
                unlink(absolute)
            }
            unlink(abandoned.path)
        }
        return recovery
    }

    /// The index record of a file on disk.
    static func record(of absolute: String, storedPath: String, found: FoundFile) throws -> InstanceRecord {
        let file = try DicomFileLoader(stopBeforePixels: true).load(absolute)
        return try InstanceRecord(file: file, path: storedPath,
                                  stamp: .init(size: found.size, mtimeNanoseconds: found.mtimeNanoseconds, inode: found.inode))
    }
}

extension StoreLayout {
    /// The default layout, `studies/{study}/series/{series}/instances/{sop}.dcm`.
    public static let standard: StoreLayout = {
        do { return try StoreLayout() } catch { fatalError("the default layout is valid") }
    }()
}

// MARK: - One batch

/// Steps 1–3 of one batch, done.
final class PreparedBatch: @unchecked Sendable {
    var done: [(Int, StoreResult)] = []
    var candidates: [Candidate] = []
    /// Made durable by syncfs (not file by file): so are its renames.
    var wholeFileSystem = false
    var parseTime = 0.0, writeTime = 0.0
}

/// The stored path of a SOP Instance UID, on one connection (used from one thread at a time).
final class StoredPaths: @unchecked Sendable {
    let database: SQLiteDatabase
    init(_ database: SQLiteDatabase) { self.database = database }

    func path(sopUID: String) -> String? {
        guard let statement = try? database.prepare("SELECT path FROM instances WHERE sop_uid = ?") else { return nil }
        statement.bind([.text(sopUID)])
        defer { statement.reset() }
        return (try? statement.step()) == true ? statement.text(0) : nil
    }
}

/// What step 1 made of an input.
enum Examined: Sendable {
    case done(position: Int, result: StoreResult)
    case candidate(Candidate)
}

/// The bytes to store: the input file itself (copied, linked or moved), or bytes in memory
/// (stdin, or a data set given a meta header).
enum Content: Sendable {
    case file(Descriptor, size: Int64, mtimeNanoseconds: Int64)
    case memory([UInt8])
}

/// A valid input on its way into the archive. Each step touches it from one thread at a time.
final class Candidate: @unchecked Sendable {
    let position: Int
    let source: String
    private(set) var content: Content
    let file: DicomFile
    let sopClass: String, sop: String
    let relativePath: String
    let folderPath: String
    let fileName: String
    let warning: StoreWarningReason?
    let warningMessage: String?

    /// Stored path of an indexed, present file with the same SOP Instance UID (step 2).
    var existing: String?
    /// The destination folder and the temporary file written there (step 3).
    var folder: Descriptor?
    var temporary: String?
    var stamp: InstanceRecord.FileStamp?
    /// The index record of the written file.
    var record: InstanceRecord?
    /// Defects the lenient reader tolerated (stored as they are), for a warning.
    var defects: String?
    var result: StoreResult?

    init(position: Int, source: String, content: Content, file: DicomFile, sopClass: String, sop: String,
         relativePath: String, warning: StoreWarningReason?, warningMessage: String?) {
        self.position = position
        self.source = source
        self.content = content
        self.file = file
        self.sopClass = sopClass
        self.sop = sop
        self.relativePath = relativePath
        let slash = relativePath.lastIndex(of: "/")
        folderPath = slash.map { String(relativePath[..<$0]) } ?? ""
        fileName = slash.map { String(relativePath[relativePath.index(after: $0)...]) } ?? relativePath
        self.warning = warning
        self.warningMessage = warningMessage
    }

    func written(stamp: InstanceRecord.FileStamp) throws {
        self.stamp = stamp
        record = try InstanceRecord(file: file, path: relativePath, stamp: stamp)
    }


    func finish(_ outcome: StoreResult.Outcome, storedPath: String? = nil, message: String? = nil) {
        let failed: Bool
        if case .failed = outcome { failed = true } else { failed = false }
        result = StoreResult(source: source, outcome: outcome, sopClassUID: sopClass, sopInstanceUID: sop,
                             storedPath: failed ? nil : storedPath, warning: failed ? nil : warning,
                             message: message ?? (failed ? nil : warningMessage))
    }

    func fail(_ error: FileSystemError) {
        finish(.failed(error.isOutOfResources ? .outOfResources : .processingFailure), message: "\(source): \(error.description)")
    }

    /// Drops the descriptors (source and folder) once the candidate is done with.
    func release() {
        folder = nil
        content = .memory([])
    }

    func discardTemporary() {
        if let temporary, let folder { unlinkat(folder.fd, temporary, 0) }
        temporary = nil
    }
}

/// What every step of a run shares.
final class Context: @unchecked Sendable {
    let operation: StoreOperation
    let root: Descriptor
    let journal: StoreJournal
    let options: ParseOptions
    private let counter = Atomic<Int>(0)

    /// Destination folders opened in this batch, shared by the candidates that go there.
    private let folders = Mutex<[String: Descriptor]>([:])

    init(operation: StoreOperation, root: Descriptor, journal: StoreJournal) {
        self.operation = operation
        self.root = root
        self.journal = journal
        options = DicomFileLoader(stopBeforePixels: false, strict: operation.strict).options
    }

    var location: ArchiveLocation { operation.location }

    /// Seconds spent in the commit's steps: journal, renames, sync, index (for -d).
    var commitTimes = [0.0, 0.0, 0.0, 0.0]

    /// syncfs of every file system the candidates' folders are on; a failure fails them all
    /// (what was written cannot be trusted to be durable).
    func syncFileSystems(of candidates: [Candidate]) {
        var done = Set<UInt64>()
        for candidate in candidates {
            guard let folder = candidate.folder else { continue }
            var info = stat()
            guard fstat(folder.fd, &info) == 0, done.insert(UInt64(info.st_dev)).inserted else { continue }
            do {
                try AtomicFile.syncFileSystem(folder.fd, path: location.root + "/" + candidate.folderPath)
            } catch let error as FileSystemError {
                for other in candidates {
                    other.discardTemporary()
                    other.fail(error)
                }
                return
            } catch {}
        }
    }

    /// Descriptors kept open at most (folders of the layout, each level).
    static let folderCacheLimit = 256

    /// A folder of the layout, created as needed, opened level by level from the deepest one
    /// already open (`AtomicFile.openFolder`: no symbolic links).
    func openFolder(_ path: String, syncCreated: Bool) throws -> Descriptor {
        if let open = folders.withLock({ $0[path] }) { return open }
        let components = path.split(separator: "/").map(String.init)
        var current = root, start = 0
        for count in stride(from: components.count - 1, through: 1, by: -1) {
            if let open = folders.withLock({ $0[components[0..<count].joined(separator: "/")] }) {
                current = open
                start = count
                break
            }
        }
        for i in start..<components.count {
            let key = components[0...i].joined(separator: "/")
            current = try AtomicFile.openFolder(base: current.fd, components: [components[i]], create: true,
                                                basePath: location.root + "/" + components[0..<i].joined(separator: "/"),
                                                syncCreated: syncCreated)
            let opened = current
            folders.withLock {
                if $0.count >= Self.folderCacheLimit { $0.removeAll() }
                $0[key] = opened
            }
        }
        return current
    }

    /// Forgets the open folders (between batches, so that few descriptors stay open).
    func endBatch() { folders.withLock { if $0.count >= Self.folderCacheLimit / 2 { $0.removeAll() } } }
    func nextTemporaryNumber() -> Int { counter.wrappingAdd(1, ordering: .relaxed).newValue }

    // MARK: Step 1

    func examine(_ input: StoreOperation.Input, position: Int) -> Examined {
        func done(_ outcome: StoreResult.Outcome, _ source: String, _ message: String, sopClass: String? = nil, sop: String? = nil) -> Examined {
            .done(position: position, result: StoreResult(source: source, outcome: outcome, sopClassUID: sopClass, sopInstanceUID: sop, message: message))
        }
        let source: String, explicit: Bool
        var content: Content
        let byteSource: any ByteSource
        switch input {
        case .unreadable(let path, let message):
            return done(.failed(.processingFailure), path, message)
        case .standardInput:
            source = "-"
            explicit = true
            do {
                let memory = try DicomFileLoader.standardInput()
                content = .memory(memory.bytes)
                byteSource = memory
            } catch {
                return done(.failed(.processingFailure), source, DwcError(error).message)
            }
        case .file(let path, let named):
            source = path
            explicit = named
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return done(.failed(.processingFailure), path, FileSystemError("open", path).description) }
            let descriptor = Descriptor(fd)
            var info = stat()
            guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                return done(.failed(.processingFailure), path, "\(path): not a regular file")
            }
            let mtime = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
            content = .file(descriptor, size: Int64(info.st_size), mtimeNanoseconds: mtime)
            byteSource = DescriptorByteSource(descriptor: descriptor, name: path, size: UInt64(info.st_size))
        }
        let label = source == "-" ? "<stdin>" : source

        var file: DicomFile
        do {
            file = try DicomReader(options: options).read(from: byteSource)
        } catch let error as DicomParserError {
            switch error.kind {
            case .notDicom:
                return explicit ? done(.failed(.cannotUnderstand), source, "\(label): not a DICOM file")
                    : done(.ignored, source, "\(label): not a DICOM file; skipped")
            case .notFound, .cannotRead:
                return done(.failed(.processingFailure), source, error.description)
            case .invalid, .defect, .unsupported:
                return done(.failed(.cannotUnderstand), source, error.description)
            }
        } catch let error as FileSystemError {
            return done(.failed(.processingFailure), source, error.description)
        } catch {
            return done(.failed(.processingFailure), source, "\(label): \(error)")
        }

        if let cut = file.warnings.first(where: Self.isTruncation) {
            return done(.failed(.cannotUnderstand), source, "\(label): truncated: \(cut)")
        }
        if file.isDICOMDIR {
            return explicit ? done(.failed(.sopClassNotSupported), source, "\(label): a DICOMDIR, not an instance")
                : done(.ignored, source, "\(label): a DICOMDIR; skipped")
        }

        // The four UIDs that name and place the instance.
        let ds = file.dataSet
        var uids: [String] = []
        for (tag, name) in [(Tag.sopClassUID, "SOPClassUID"), (.sopInstanceUID, "SOPInstanceUID"),
                            (.studyInstanceUID, "StudyInstanceUID"), (.seriesInstanceUID, "SeriesInstanceUID")] {
            let values = ds.strings(tag) ?? []
            guard let value = values.first, !value.isEmpty else {
                return done(.failed(.dataSetMismatch), source, "\(label): no \(name) \(tag)",
                            sopClass: uids.first, sop: uids.count > 1 ? uids[1] : nil)
            }
            guard values.count == 1, UIDRegistry.isValid(value) else {
                return done(.failed(.dataSetMismatch), source,
                            "\(label): \(name) \(tag) '\(Self.printable(values.joined(separator: "\\")))' is not a valid UID (PS3.5 §9)",
                            sopClass: uids.first, sop: uids.count > 1 ? uids[1] : nil)
            }
            uids.append(value)
        }
        let (sopClass, sop, study, series) = (uids[0], uids[1], uids[2], uids[3])

        var warning: StoreWarningReason?
        var warningMessage: String?
        if file.fileMeta.isEmpty {
            guard operation.addMeta else {
                return done(.failed(.cannotUnderstand), source, "\(label): no file meta information (use --add-meta to write one)",
                            sopClass: sopClass, sop: sop)
            }
            // Meta written by dwc in front of the data set's own bytes, which stay as they are.
            do {
                let syntax = file.transferSyntax
                var bytes = try DicomWriter().part10(dataSet: DataSet(), meta: DicomWriter.fileMeta(for: ds, syntax: syntax), syntax: syntax)
                bytes += try byteSource.read(offset: file.dataSetOffset, length: Int(byteSource.size - file.dataSetOffset))
                let memory = MemoryByteSource(name: label, bytes: bytes)
                file = try DicomReader(options: options).read(from: memory)
                content = .memory(bytes)
                warning = .coercion
                warningMessage = "\(label): file meta information added (transfer syntax \(syntax.name))"
                    + (operation.mode == .hardlink ? "; written as a new file, not linked" : "")
            } catch {
                return done(.failed(.processingFailure), source, "\(label): cannot add file meta information: \(error)", sopClass: sopClass, sop: sop)
            }
        } else {
            let metaClass = file.fileMeta.string(.mediaStorageSOPClassUID)
            let metaInstance = file.fileMeta.string(.mediaStorageSOPInstanceUID)
            if metaClass != sopClass {
                return done(.failed(.dataSetMismatch), source,
                            "\(label): MediaStorageSOPClassUID (0002,0002) '\(Self.printable(metaClass ?? "missing"))' differs from SOPClassUID '\(sopClass)'",
                            sopClass: sopClass, sop: sop)
            }
            if metaInstance != sop {
                return done(.failed(.dataSetMismatch), source,
                            "\(label): MediaStorageSOPInstanceUID (0002,0003) '\(Self.printable(metaInstance ?? "missing"))' differs from SOPInstanceUID '\(sop)'",
                            sopClass: sopClass, sop: sop)
            }
        }

        let relativePath = operation.layout.relativePath(for: .init(
            study: study, series: series, sop: sop, modality: ds.string(Tag(0x0008, 0x0060)), patientID: ds.string(Tag(0x0010, 0x0020))))
        let candidate = Candidate(position: position, source: source, content: content, file: file, sopClass: sopClass, sop: sop,
                                  relativePath: relativePath, warning: warning, warningMessage: warningMessage)
        if !file.warnings.isEmpty {
            candidate.defects = "\(label): " + file.warnings.map(\.description).joined(separator: "; ")
        }
        return .candidate(candidate)
    }

    /// Tolerated defects that mean the file was cut short.
    static func isTruncation(_ warning: ParseWarning) -> Bool {
        let m = warning.message
        return m.contains("past the end of the file") || m.contains("stray bytes after the last fragment")
            || m.contains("encapsulated pixel data has no sequence delimiter")
    }

    /// A value for a message: control characters escaped, at most 80 characters.
    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars.prefix(80) {
            if scalar.value < 0x20 || scalar.value == 0x7F { out += "\\u{\(String(scalar.value, radix: 16))}" } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }

    // MARK: Step 3

    /// Compares with the stored file of the same SOP Instance UID, or writes the temporary file.
    /// `syncEachFile`: fsync file by file (small batches), else the caller syncs the file system.
    func prepare(_ candidate: Candidate, syncEachFile: Bool) {
        do {
            if let existing = candidate.existing {
                let absolute = location.absolute(existing)
                if try sameContent(candidate, absolute) {
                    candidate.finish(.alreadyStored, storedPath: absolute)
                    return
                }
                switch operation.onDuplicate {
                case .reject:
                    candidate.finish(.failed(.duplicate), message: "\(candidate.source): SOP Instance UID \(candidate.sop) is stored with other content at \(absolute)")
                    return
                case .skip:
                    candidate.finish(.skipped, storedPath: absolute, message: "\(candidate.source): SOP Instance UID \(candidate.sop) is stored with other content at \(absolute); skipped")
                    return
                case .replace:
                    break
                }
            }
            try writeTemporary(candidate, syncEachFile: syncEachFile)
        } catch let error as FileSystemError {
            candidate.discardTemporary()
            candidate.fail(error)
        } catch {
            candidate.discardTemporary()
            candidate.finish(.failed(.processingFailure), message: "\(candidate.source): \(error)")
        }
    }

    /// Whether the candidate's bytes equal those of a file.
    func sameContent(_ candidate: Candidate, _ path: String) throws -> Bool {
        try sameContent(candidate, nil, path, path: path)
    }

    /// ... of a file in an open folder (or a path, when `folder` is nil).
    func sameContent(_ candidate: Candidate, _ folder: Descriptor?, _ name: String, path: String) throws -> Bool {
        let other = try Descriptor(openat(folder?.fd ?? AT_FDCWD, name, O_RDONLY | O_CLOEXEC), "open", path)
        switch candidate.content {
        case .file(let descriptor, _, _): return try AtomicFile.sameContent(descriptor.fd, other.fd, pathA: candidate.source, pathB: path)
        case .memory(let bytes): return try AtomicFile.sameContent(other.fd, bytes, path: path)
        }
    }

    func writeTemporary(_ candidate: Candidate, syncEachFile: Bool) throws {
        let folderPath = candidate.folderPath
        let folder = try openFolder(folderPath, syncCreated: syncEachFile)
        candidate.folder = folder
        try journal.noteTemporaryFolder(folderPath)
        let shownFolder = location.root + "/" + folderPath
        var info = stat()
        switch candidate.content {
        case .file(let source, let size, let mtime):
            if operation.mode != .copy {
                // One more name for the very inode that was parsed (no copy, no path race).
                var linked = false
                while true {
                    let name = "\(AtomicFile.temporaryPrefix)\(journal.token)-\(nextTemporaryNumber())"
                    if linkat(AT_FDCWD, "/proc/self/fd/\(source.fd)", folder.fd, name, AT_SYMLINK_FOLLOW) == 0 {
                        candidate.temporary = name
                        linked = true
                        break
                    }
                    if errno == EEXIST { continue }
                    if operation.mode == .hardlink {
                        throw FileSystemError("hard link (--mode hardlink needs the input on the archive's file system)", shownFolder + "/" + name)
                    }
                    break  // move across file systems: copy
                }
                if linked {
                    // The archive now refers to the source's data: make it durable too.
                    if syncEachFile { try AtomicFile.sync(source.fd, path: candidate.source) }
                    guard fstat(source.fd, &info) == 0 else { throw FileSystemError("stat", candidate.source) }
                    try candidate.written(stamp: Self.stamp(info))
                    return
                }
            }
            let (temporary, name) = try AtomicFile.createTemporary(in: folder.fd, token: journal.token, next: nextTemporaryNumber, folder: shownFolder)
            candidate.temporary = name
            try AtomicFile.copy(from: source.fd, to: temporary.fd, length: size, sourcePath: candidate.source, destinationPath: shownFolder + "/" + name)
            if syncEachFile { try AtomicFile.sync(temporary.fd, path: shownFolder + "/" + name) }
            guard fstat(source.fd, &info) == 0 else { throw FileSystemError("stat", candidate.source) }
            if Int64(info.st_size) != size || Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec) != mtime {
                throw FileSystemError("copy (the file changed while it was stored)", candidate.source, code: EAGAIN)
            }
            guard fstat(temporary.fd, &info) == 0 else { throw FileSystemError("stat", shownFolder + "/" + name) }
        case .memory(let bytes):
            let (temporary, name) = try AtomicFile.createTemporary(in: folder.fd, token: journal.token, next: nextTemporaryNumber, folder: shownFolder)
            candidate.temporary = name
            try bytes.withUnsafeBytes { try AtomicFile.writeAll(temporary.fd, $0, path: shownFolder + "/" + name) }
            if syncEachFile { try AtomicFile.sync(temporary.fd, path: shownFolder + "/" + name) }
            guard fstat(temporary.fd, &info) == 0 else { throw FileSystemError("stat", shownFolder + "/" + name) }
        }
        try candidate.written(stamp: Self.stamp(info))
    }

    static func stamp(_ info: stat) -> InstanceRecord.FileStamp {
        InstanceRecord.FileStamp(size: Int64(info.st_size),
                                 mtimeNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                                 inode: Int64(bitPattern: UInt64(info.st_ino)))
    }

    // MARK: Step 4

    fileprivate enum Action {
        /// Rename without replacing.
        case place
        /// Rename over the stored file at the same path.
        case replaceInPlace
        /// Rename to the new path; the stored file at the old path goes after the commit.
        case replaceElsewhere(old: String)

        var isReplacement: Bool { if case .place = self { return false } else { return true } }
    }

    /// Decides, renames, fsyncs and indexes one batch; call with the store lock held.
    func commit(_ candidates: [Candidate], index: ArchiveIndex, committed: StoredPaths, wholeFileSystem: Bool) throws {
        // Decide again: another process may have stored some of these since step 2, and the
        // batch itself may hold the same instance twice.
        var planned: [(Candidate, Action)] = []
        var inBatch: [String: Candidate] = [:]
        var followers: [(Candidate, leader: Candidate)] = []
        for candidate in candidates where candidate.result == nil && candidate.temporary != nil {
            if let leader = inBatch[candidate.sop] {
                // The same instance twice in one batch: the second follows the first if identical.
                let same: Bool
                do {
                    same = try sameContent(candidate, leader.folder, leader.temporary ?? "", path: leader.relativePath)
                } catch let error as FileSystemError {
                    candidate.fail(error)
                    continue
                }
                if same {
                    followers.append((candidate, leader))
                } else {
                    duplicate(candidate, existing: location.absolute(leader.relativePath), note: " (an earlier input)")
                }
                continue
            }
            var existing: String?
            if let path = committed.path(sopUID: candidate.sop), statFile(location.absolute(path)) != nil {
                existing = path
            }
            if let existing, existing != candidate.existing {
                // Stored by another process since step 2: compare now.
                let absolute = location.absolute(existing)
                do {
                    if try sameContent(candidate, absolute) {
                        candidate.finish(.alreadyStored, storedPath: absolute)
                        continue
                    }
                } catch let error as FileSystemError {
                    candidate.fail(error)
                    continue
                }
                if operation.onDuplicate != .replace {
                    duplicate(candidate, existing: absolute)
                    continue
                }
            }
            let action: Action
            if let existing {
                action = existing == candidate.relativePath ? .replaceInPlace : .replaceElsewhere(old: existing)
            } else {
                action = .place
            }
            planned.append((candidate, action))
            inBatch[candidate.sop] = candidate
        }
        defer {
            for (follower, leader) in followers {
                switch leader.result?.outcome {
                case .stored?, .replaced?, .alreadyStored?:
                    follower.finish(.alreadyStored, storedPath: leader.result?.storedPath)
                default:
                    follower.finish(leader.result?.outcome ?? .failed(.processingFailure),
                                    message: "\(follower.source): same instance as \(leader.source), which was not stored")
                }
            }
        }
        guard !planned.isEmpty else { return }

        var removals: [String] = []
        for case (_, .replaceElsewhere(let old)) in planned { removals.append(old) }
        var clock = monotonicSeconds()
        func lap(_ step: Int) {
            let now = monotonicSeconds()
            commitTimes[step] += now - clock
            clock = now
        }
        do {
            try journal.notePending(placements: planned.map(\.0.relativePath), removals: removals)
        } catch let error as FileSystemError {
            // Nothing renamed yet: the batch fails as a whole (a full disk, typically).
            for (candidate, _) in planned { candidate.fail(error) }
            return
        }
        lap(0)

        // Rename into place.
        var placed: [(Candidate, replaced: Bool, createdName: Bool)] = []
        var records: [(Candidate, IndexedFile)] = []
        for (candidate, action) in planned {
            guard let folder = candidate.folder, let temporary = candidate.temporary, let record = candidate.record else { continue }
            let absolute = location.absolute(candidate.relativePath)
            do {
                switch action {
                case .replaceInPlace:
                    _ = try AtomicFile.place(directory: folder.fd, temporary: temporary, final: candidate.fileName, replace: true, folder: candidate.folderPath)
                    candidate.temporary = nil
                    placed.append((candidate, true, false))
                case .place, .replaceElsewhere:
                    if try AtomicFile.place(directory: folder.fd, temporary: temporary, final: candidate.fileName, replace: false, folder: candidate.folderPath) {
                        candidate.temporary = nil
                        placed.append((candidate, action.isReplacement, true))
                    } else if try sameContent(candidate, absolute) {
                        // A complete file nobody indexed (an interrupted run): index it.
                        candidate.finish(.alreadyStored, storedPath: absolute)
                        if let found = statFile(absolute) {
                            let stamp = InstanceRecord.FileStamp(size: found.size, mtimeNanoseconds: found.mtimeNanoseconds, inode: found.inode)
                            records.append((candidate, .instance(try InstanceRecord(file: candidate.file, path: candidate.relativePath, stamp: stamp))))
                        }
                        continue
                    } else if operation.onDuplicate == .replace {
                        _ = try AtomicFile.place(directory: folder.fd, temporary: temporary, final: candidate.fileName, replace: true, folder: candidate.folderPath)
                        candidate.temporary = nil
                        placed.append((candidate, true, false))
                    } else {
                        duplicate(candidate, existing: absolute, note: " (not indexed)")
                        continue
                    }
                }
                records.append((candidate, .instance(record)))
            } catch let error as FileSystemError {
                candidate.fail(error)
            } catch {
                candidate.finish(.failed(.processingFailure), message: "\(candidate.source): \(error)")
            }
        }

        lap(1)
        // The new names are durable before the index refers to them: each folder fsynced, or the
        // file systems synced at once.
        var folders: [String: Descriptor] = [:]
        for (candidate, _, _) in placed { folders[candidate.folderPath] = candidate.folder }
        let syncErrors = Mutex<[FileSystemError]>([])
        var list = Array(folders)
        if wholeFileSystem {
            var devices = Set<UInt64>()
            list = list.filter { entry in
                var info = stat()
                return fstat(entry.value.fd, &info) != 0 || devices.insert(UInt64(info.st_dev)).inserted
            }
        }
        let toSync = list
        parallel(toSync.count, workers: operation.writers) { i in
            let path = self.location.root + "/" + toSync[i].key
            do {
                if wholeFileSystem { try AtomicFile.syncFileSystem(toSync[i].value.fd, path: path) } else { try AtomicFile.sync(toSync[i].value.fd, path: path) }
            } catch let error as FileSystemError {
                syncErrors.withLock { $0.append(error) }
            } catch {}
        }
        if let error = syncErrors.withLock({ $0.first }) {
            unplace(placed)
            for (candidate, _, _) in placed { candidate.fail(error) }
            try? journal.noteCommitted()  // only a hint for recovery, which checks the index anyway
            return
        }

        lap(2)
        // The index rows, in one transaction. A replaced file's old path no longer counts as live,
        // so the row moves to the new path.
        let removalSet = Set(removals)
        let outcomes: [RecordOutcome]
        do {
            outcomes = try index.record(records.map(\.1)) { stored in
                !removalSet.contains(stored) && statFile(self.location.absolute(stored)) != nil
            }
        } catch {
            let message = DwcError(error).message
            let reason: StoreFailureReason = message.contains("database or disk is full") ? .outOfResources : .processingFailure
            unplace(placed)
            for (candidate, _) in records where candidate.result == nil || candidate.result?.outcome == .alreadyStored {
                candidate.finish(.failed(reason), message: "\(candidate.source): not stored: the index cannot be written: \(message)")
            }
            try? journal.noteCommitted()  // only a hint for recovery, which checks the index anyway
            return
        }
        lap(3)
        try? journal.noteCommitted()

        let replacedOnes = Set(placed.filter(\.replaced).map { ObjectIdentifier($0.0) })
        for ((candidate, _), outcome) in zip(records, outcomes) {
            let absolute = location.absolute(candidate.relativePath)
            guard candidate.result == nil else { continue }  // already stored, now indexed
            if case .duplicate(let other) = outcome {
                // Indexed meanwhile from another path (by dwc index): ours goes again.
                unlink(absolute)
                let otherPath = location.absolute(other)
                if (try? sameContent(candidate, otherPath)) == true {
                    candidate.finish(.alreadyStored, storedPath: otherPath)
                } else {
                    duplicate(candidate, existing: otherPath)
                }
                continue
            }
            candidate.finish(replacedOnes.contains(ObjectIdentifier(candidate)) ? .replaced : .stored, storedPath: absolute)
        }
        for old in removals { unlink(location.absolute(old)) }
    }

    /// Takes back the files this batch renamed into new names (when the batch cannot be indexed).
    private func unplace(_ placed: [(Candidate, replaced: Bool, createdName: Bool)]) {
        for (candidate, _, createdName) in placed {
            if createdName, let folder = candidate.folder { unlinkat(folder.fd, candidate.fileName, 0) }
        }
        for (candidate, _, createdName) in placed where createdName {
            if let folder = candidate.folder { try? AtomicFile.sync(folder.fd, path: candidate.folderPath) }
        }
    }

    private func duplicate(_ candidate: Candidate, existing: String, note: String = "") {
        switch operation.onDuplicate {
        case .skip:
            candidate.finish(.skipped, storedPath: existing,
                             message: "\(candidate.source): SOP Instance UID \(candidate.sop) is stored with other content at \(existing)\(note); skipped")
        default:
            candidate.finish(.failed(.duplicate),
                             message: "\(candidate.source): SOP Instance UID \(candidate.sop) is stored with other content at \(existing)\(note)")
        }
    }

    // MARK: Move

    /// --mode move: the input goes once its content is durable in the archive (never the stored
    /// file itself, nor the last name of its inode).
    func removeSource(of candidate: Candidate, result: StoreResult, reporter: StoreOperation.Reporter) {
        guard candidate.source != "-", let stored = result.storedPath else { return }
        switch result.outcome {
        case .stored, .replaced, .alreadyStored: break
        default: return
        }
        var sourceInfo = stat(), storedInfo = stat()
        guard stat(candidate.source, &sourceInfo) == 0, stat(stored, &storedInfo) == 0 else { return }
        if sourceInfo.st_dev == storedInfo.st_dev, sourceInfo.st_ino == storedInfo.st_ino, storedInfo.st_nlink <= 1 { return }
        if absolutePath(candidate.source) == stored { return }
        if result.outcome == .alreadyStored {
            // Stored by someone else, maybe not yet durable.
            let fd = open(stored, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { _ = fsync(fd); close(fd) }
        }
        if unlink(candidate.source) != 0 {
            reporter.warning("\(candidate.source): stored, but cannot remove the input: \(String(cString: strerror(errno)))")
        }
    }
}

/// Runs `body(0..<count)` on up to `workers` threads (serial queues, so that threads blocked in
/// fsync do not hold back the others).
func parallel(_ count: Int, workers: Int, _ body: @escaping @Sendable (Int) -> Void) {
    guard count > 0 else { return }
    let n = max(1, min(workers, count))
    if n == 1 {
        for i in 0..<count { body(i) }
        return
    }
    final class Counter: Sendable { let next = Atomic<Int>(0) }
    let counter = Counter()
    let group = DispatchGroup()
    for worker in 0..<n {
        DispatchQueue(label: "dwc.store.\(worker)").async(group: group) {
            while true {
                let i = counter.next.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= count { break }
                body(i)
            }
        }
    }
    group.wait()
}
