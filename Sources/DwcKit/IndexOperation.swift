import DicomCore
import DicomIndex
import DicomParser
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `dwc index`: walks the archive, parses the headers of new and changed files in parallel and
/// records them through one writer in batched transactions.
public struct IndexOperation: Sendable {
    public var location: ArchiveLocation
    /// Files and directories to index; the archive root when empty.
    public var paths: [String] = []
    /// Explicit file list (--files-from); no walk and no pruning then.
    public var fileList: [String]?
    /// URLs to index (https://, s3:// and gs:// prefixes). With URLs only, no local walk.
    public var urls: [String] = []
    /// Objects read at once when indexing URLs (the time goes in round trips, not CPU).
    public var remoteJobs = 8
    public var walker = FileWalker()
    public var prune = true
    public var rebuild = false
    public var jobs = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    public var batchSize = 512
    /// Files a new index takes in one go before it is published (ArchiveIndex.startBuilding);
    /// after that it grows batch by batch like any index, so that a run stopped on a huge
    /// archive keeps most of its work. 0: no build in one go.
    public var buildLimit = 100_000

    public init(location: ArchiveLocation) { self.location = location }

    public struct Summary: Sendable {
        public var added = 0, updated = 0, unchanged = 0, removed = 0
        public var notDicom = 0, dicomdir = 0, duplicates = 0, failed = 0
        public var elapsedSeconds = 0.0
        /// Adds another summary's counts (not its time).
        mutating func add(_ other: Summary) {
            added += other.added; updated += other.updated; unchanged += other.unchanged; removed += other.removed
            notDicom += other.notDicom; dicomdir += other.dicomdir; duplicates += other.duplicates; failed += other.failed
        }

        public var filesPerSecond: Double { elapsedSeconds > 0 ? Double(added + updated) / elapsedSeconds : 0 }

        public var line: String {
            "indexed: \(added) added, \(updated) updated, \(unchanged) unchanged, \(removed) removed, "
                + "\(notDicom) skipped-not-DICOM, \(dicomdir) DICOMDIR, \(duplicates) duplicates, \(failed) failed "
                + "in \(String(format1: elapsedSeconds)) s (\(Int(filesPerSecond.rounded())) files/s)"
        }

        public var json: String {
            "{\"added\": \(added), \"updated\": \(updated), \"unchanged\": \(unchanged), \"removed\": \(removed), "
                + "\"skipped_not_dicom\": \(notDicom), \"dicomdir\": \(dicomdir), \"duplicates\": \(duplicates), "
                + "\"failed\": \(failed), \"elapsed_s\": \(elapsedSeconds), \"files_per_s\": \(filesPerSecond)}"
        }
    }

    /// Messages for the user: problems with files (path and reason) and progress.
    public struct Reporter: Sendable {
        public var problem: @Sendable (String) -> Void
        public var warning: @Sendable (String) -> Void
        public var progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?
        /// Phase timings for -d.
        public var debug: (@Sendable (String) -> Void)?
        public init(problem: @escaping @Sendable (String) -> Void, warning: @escaping @Sendable (String) -> Void,
                    progress: (@Sendable (Int, Int) -> Void)? = nil) {
            self.problem = problem
            self.warning = warning
            self.progress = progress
        }
    }

    public func run(reporter: Reporter) throws -> Summary {
        let start = monotonicSeconds()
        var summary = Summary()
        try location.prepareIndexDirectory()
        // A new index is built privately and appears complete; an existing one is updated in
        // place, batch by batch.
        var index: ArchiveIndex
        var building = false
        do {
            if buildLimit > 0, !rebuild, let builder = try ArchiveIndex.startBuilding(at: location.indexPath) {
                index = builder
                building = true
            } else {
                index = try ArchiveIndex(path: location.indexPath, create: true, rebuild: rebuild)
            }
        } catch {
            throw DwcError(error)
        }

        // Discover on another thread, which hands new and changed files to the parsers as it
        // finds them: on a large tree the walk takes a tenth of a cold run, and the other core
        // would wait for it. Given only URLs, the archive root is not walked. The walk starts
        // while this thread reads what the index has seen (a fifth of an unchanged re-run).
        let local = urls.isEmpty || !paths.isEmpty || fileList != nil
        let roots = (paths.isEmpty ? [location.root] : paths).map(absolutePath)
        if local, fileList == nil {
            for root in roots where statFile(root) == nil && !isDirectory(root) {
                throw DwcError(.badInputDirectory, "\(root): no such file or directory")
            }
        }
        let feed = FileFeed()
        let discovery = Mutex<Discovery?>(nil)
        let walked = DispatchGroup()
        let handoff = KnownFilesHandoff()
        walked.enter()
        DetachedThread.start { [self] in
            let result = discover(local: local, roots: roots, known: handoff, into: feed, reporter: reporter)
            discovery.withLock { $0 = result }
            feed.finish()
            walked.leave()
        }

        // A `dwc store` that died (killed, or a power cut) leaves its journal: its temporary files
        // go, and files it renamed into place but did not record are recorded (the walk would
        // find those anyway; it never sees the hidden temporaries). Then what the index has seen,
        // to compare with.
        let known: [String: ArchiveIndex.KnownFile]
        do {
            if fileList == nil, urls.isEmpty || !paths.isEmpty {
                if let warning = try StoreOperation.recoverAbandonedStores(location: location, index: index).warning {
                    reporter.warning(warning)
                }
            }
            known = try index.knownFiles()
        } catch {
            handoff.set([:])  // the walk ends
            throw DwcError(error)
        }
        handoff.set(known)

        // Parse in parallel, write each batch in one transaction.
        let loader = DicomFileLoader(stopBeforePixels: true)
        let locationCopy = location
        var done = 0
        var waitTime = 0.0, writeTime = 0.0
        // Batch k+1 is parsed on the worker threads while batch k is written, and the writer
        // joins them when done. The first batch is small: nothing overlaps its parsing, so the
        // writer should start soon.
        // A build's batches are smaller: they are not transactions, and the last one, which
        // the writer records with the other cores idle, is then short.
        let batchSize = building ? min(self.batchSize, 128) : self.batchSize
        var current = feed.next(max: min(batchSize, 64)).map { BatchParse($0, jobs: jobs, loader: loader).finish() }
        while let parsedBatch = current {
            let next = feed.next(max: batchSize).map { BatchParse($0, jobs: jobs, loader: loader) }
            for (message, isProblem) in parsedBatch.messages {
                if isProblem { reporter.problem(message) } else { reporter.warning(message) }
            }
            let files = parsedBatch.files
            let writeStart = monotonicSeconds()
            let outcomes: [RecordOutcome]
            do {
                outcomes = try index.record(files) { stored in statFile(locationCopy.absolute(stored)) != nil }
            } catch {
                throw DwcError(error)
            }
            writeTime += monotonicSeconds() - writeStart
            tally(files, outcomes, into: &summary, reporter: reporter)
            done += files.count
            reporter.progress?(done, feed.count)
            if building, done >= buildLimit {
                do {
                    try index.publish()
                    index = try ArchiveIndex(path: location.indexPath, create: true)
                } catch {
                    throw DwcError(error)
                }
                building = false
                reporter.debug?("published the new index after \(done) files; on in place")
            }
            guard let next else { break }
            let waitStart = monotonicSeconds()
            current = next.finish()
            waitTime += monotonicSeconds() - waitStart
        }
        walked.wait()
        let found = discovery.withLock { $0 } ?? Discovery()
        summary.add(found.unchanged)
        summary.failed += found.problems
        let seen = found.seen
        reporter.debug?("discovered \(found.files) files in \(String(format1: found.seconds * 1000)) ms, beside the parsing")
        reporter.debug?("parsed \(feed.count) files (\(String(format1: waitTime * 1000)) ms of it beside the workers), wrote them in \(String(format1: writeTime * 1000)) ms")

        if !urls.isEmpty {
            try indexRemote(urls, index: index, known: known, summary: &summary, reporter: reporter)
        }

        // Forget files that are gone from the walked roots.
        if prune, fileList == nil, local {
            let gone = known.keys.filter { stored in
                guard !seen.contains(stored) else { return false }
                guard !RemoteAccess.isRemote(stored) else { return false }
                let path = location.absolute(stored)
                // A file another process (dwc store) put there after our walk is not gone.
                if statFile(path) != nil { return false }
                return roots.contains { path == $0 || path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }
            }
            do { summary.removed = try index.remove(paths: gone.sorted()) } catch { throw DwcError(error) }
        }
        if building {
            // With its statistics gathered (ANALYZE).
            let publishStart = monotonicSeconds()
            do { try index.publish() } catch { throw DwcError(error) }
            reporter.debug?("new index published in \(String(format1: (monotonicSeconds() - publishStart) * 1000)) ms")
        } else if summary.added + summary.updated + summary.removed > 0 {
            let analyzeStart = monotonicSeconds()
            try? index.optimize()
            reporter.debug?("statistics refreshed (ANALYZE) in \(String(format1: (monotonicSeconds() - analyzeStart) * 1000)) ms")
        }
        summary.elapsedSeconds = monotonicSeconds() - start
        return summary
    }

    /// What the discovery thread found besides the files it fed to the parsers.
    struct Discovery: Sendable {
        /// Every stored path seen (for pruning).
        var seen = Set<String>()
        /// Files found, and the counts of those unchanged since the last run.
        var files = 0
        var unchanged = Summary()
        /// Paths that could not be read (already reported).
        var problems = 0
        var seconds = 0.0
    }

    /// Walks the roots (or stats the --files-from list) and feeds every new or changed file to
    /// `feed`; unreadable paths are reported at once.
    func discover(local: Bool, roots: [String], known handoff: KnownFilesHandoff, into feed: FileFeed,
                  reporter: Reporter) -> Discovery {
        let start = monotonicSeconds()
        var result = Discovery()
        // Files found before the index's list arrived wait here.
        var known: [String: ArchiveIndex.KnownFile]?
        var waiting: [FoundFile] = []
        func compare(_ file: FoundFile, with known: [String: ArchiveIndex.KnownFile]) {
            result.files += 1
            let stored = location.storedPath(forAbsolute: file.path)
            guard result.seen.insert(stored).inserted else { return }
            let stamp = InstanceRecord.FileStamp(size: file.size, mtimeNanoseconds: file.mtimeNanoseconds, inode: file.inode)
            if !rebuild, let previous = known[stored], previous.stamp == stamp {
                count(unchanged: previous.status, in: &result.unchanged)
                return
            }
            feed.append(file, stored: stored)
        }
        func take(_ file: FoundFile) {
            if known == nil {
                known = handoff.ifReady()
                guard let known else { return waiting.append(file) }
                for early in waiting { compare(early, with: known) }
                waiting = []
            }
            compare(file, with: known!)
        }

        if local, let fileList {
            for path in fileList {
                if let file = statFile(absolutePath(path)) { take(file) } else {
                    reporter.problem("\(path): not a readable regular file")
                    result.problems += 1
                }
            }
        } else if local {
            let problems = walker.walk(roots, found: take)
            for problem in problems { reporter.problem("\(problem.path): \(problem.message)") }
            result.problems += problems.count
        }
        // A walk that ended before the index's list arrived compares its files now.
        if known == nil {
            let known = handoff.wait()
            for early in waiting { compare(early, with: known) }
        }
        result.seconds = monotonicSeconds() - start
        return result
    }

    struct ParsedBatch: Sendable {
        var files: [IndexedFile]
        /// Problems and warnings in file order: (message, isProblem).
        var messages: [(String, Bool)]
    }

    /// Parses one file's header into what the index records, with a message for the user.
    static func examine(file: FoundFile, stored: String, loader: DicomFileLoader,
                        cache: SearchValueCache? = nil) -> (IndexedFile, String?, Bool) {
        let stamp = InstanceRecord.FileStamp(size: file.size, mtimeNanoseconds: file.mtimeNanoseconds, inode: file.inode)
        do {
            let source = try FileByteSource(path: file.path)
            let parsed = try DicomReader(options: loader.options).read(from: source)
            if parsed.isDICOMDIR {
                return (.other(path: stored, stamp: stamp, status: .dicomdir, message: "DICOMDIR"), nil, false)
            }
            let record = try InstanceRecord(file: parsed, path: stored, stamp: stamp, cache: cache)
            let warning = parsed.warnings.isEmpty ? nil : "\(file.path): " + parsed.warnings.map(\.description).joined(separator: "; ")
            return (.instance(record), warning, false)
        } catch let error as DicomParserError where error.kind == .notDicom {
            return (.other(path: stored, stamp: stamp, status: .notDicom, message: error.message), nil, false)
        } catch {
            let message = DwcError(error).message
            return (.other(path: stored, stamp: stamp, status: .failed, message: message), message, true)
        }
    }
}

func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
}

extension String {
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}

/// What the index has seen, handed from the thread that reads it to the walk, which starts
/// before it is read.
final class KnownFilesHandoff: Sendable {
    private let table = Mutex<[String: ArchiveIndex.KnownFile]?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    func set(_ known: [String: ArchiveIndex.KnownFile]) {
        table.withLock { $0 = known }
        ready.signal()
    }

    /// The table if it was set, without waiting.
    func ifReady() -> [String: ArchiveIndex.KnownFile]? { table.withLock { $0 } }

    func wait() -> [String: ArchiveIndex.KnownFile] {
        if let known = ifReady() { return known }
        ready.wait()
        return ifReady() ?? [:]
    }
}
