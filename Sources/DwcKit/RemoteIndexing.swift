import DicomCore
import DicomIndex
import DicomParser
import DicomRemote
import Dispatch
import Synchronization

/// `dwc index URL…`: objects behind https:// URLs, or listed under s3:// and gs:// prefixes, are
/// recorded like files — path = the URL as written, inode 0, mtime = Last-Modified, plus the
/// ETag — with their frame table, so that a later retrieval costs one ranged GET per frame.
///
/// Per object: the header through RemoteByteSource (a first GET of 64 KiB, grown until the pixel
/// data element; no HEAD), the frame table from the Extended/Basic Offset Table or one streaming
/// GET over the item headers. An object whose listing ETag and size equal the index's is skipped
/// without a request.
struct RemoteIndexer: Sendable {
    /// One object to read: its URL and, when it came from a listing, what the listing said.
    struct Item: Sendable {
        var url: String
        var listed: RemoteObject?
    }

    var options: ParseOptions

    /// Expands URLs into objects: s3:// and gs:// URLs list their prefix (paged); a URL naming
    /// one key exactly gives that object only. Returns the objects and the listed prefixes (for
    /// pruning), with a problem message per URL that could not be listed.
    static func expand(_ urls: [String]) -> (items: [Item], prefixes: [String], problems: [String]) {
        var items: [Item] = [], prefixes: [String] = [], problems: [String] = []
        var seen = Set<String>()
        for string in urls {
            let url: RemoteURL
            do { url = try RemoteURL(string) } catch { problems.append(error.description); continue }
            guard url.scheme == .s3 || url.scheme == .gs else {
                if seen.insert(string).inserted { items.append(Item(url: string, listed: nil)) }
                continue
            }
            let objects: [RemoteObject]
            do { objects = try RemoteAccess.client.list(url) } catch { problems.append(error.description); continue }
            var chosen = objects
            if let key = url.key, !key.isEmpty, !key.hasSuffix("/"), let exact = objects.first(where: { $0.url.key == key }) {
                chosen = [exact]  // s3://b/a.dcm names a.dcm, not also a.dcm.bak
            } else {
                // Listed as a folder: s3://b/dir prunes under s3://b/dir/, never s3://b/dir2/.
                prefixes.append(string.hasSuffix("/") ? string : string + "/")
            }
            if chosen.isEmpty { problems.append("\(string): no objects under this prefix") }
            for object in chosen where seen.insert(object.url.description).inserted {
                items.append(Item(url: object.url.description, listed: object))
            }
        }
        return (items, prefixes, problems)
    }

    /// Reads one object's header and frame table into what the index records, with a message
    /// for the user (isProblem: true for failures, false for warnings). `known` is the index's
    /// stamp of the URL: an object found unchanged by its first GET (same ETag and size) is
    /// reported as nil, without parsing.
    func examine(_ item: Item, known: InstanceRecord.FileStamp?) -> (file: IndexedFile?, message: String?, isProblem: Bool) {
        let path = item.url
        var stamp = InstanceRecord.FileStamp(size: Int64(item.listed?.size ?? 0), mtimeNanoseconds: item.listed?.lastModified ?? 0,
                                             inode: 0, etag: item.listed?.etag)
        do {
            let source = try RemoteAccess.source(path)
            stamp.size = Int64(source.size)
            stamp.etag = source.etag ?? stamp.etag
            stamp.mtimeNanoseconds = item.listed?.lastModified ?? source.lastModified ?? 0
            if let known, known.etag != nil, known.etag == stamp.etag, known.size == stamp.size {
                return (nil, nil, false)
            }
            let parsed = try DicomReader(options: options).read(from: source)
            if parsed.isDICOMDIR {
                return (.other(path: path, stamp: stamp, status: .dicomdir, message: "DICOMDIR"), nil, false)
            }
            var record = try InstanceRecord(file: parsed, path: path, stamp: stamp)
            var warnings = parsed.warnings.map(\.description)
            if record.pixelEncapsulated, record.frameTable == nil {
                do {
                    if let spans = try RemoteAccess.frameSpans(of: parsed, source: source) { record.frameTable = FrameSpan.pack(spans) }
                } catch let error as RemoteError {
                    throw error
                } catch {
                    // The instance is still indexed; its frames are located when they are asked for.
                    warnings.append("no frame table: \(DwcError(error).message)")
                }
            }
            return (.instance(record), warnings.isEmpty ? nil : "\(path): " + warnings.joined(separator: "; "), false)
        } catch let error as DicomParserError where error.kind == .notDicom {
            return (.other(path: path, stamp: stamp, status: .notDicom, message: error.message), nil, false)
        } catch {
            let message = DwcError(error).message
            return (.other(path: path, stamp: stamp, status: .failed, message: message), message, true)
        }
    }

    /// Examines items on `jobs` threads (the requests are what takes time); results in order.
    func examine(_ items: [Item], known: [String: ArchiveIndex.KnownFile], jobs: Int)
        -> [(file: IndexedFile?, message: String?, isProblem: Bool)] {
        let results = Mutex<[(file: IndexedFile?, message: String?, isProblem: Bool)?]>(Array(repeating: nil, count: items.count))
        let workers = max(1, min(jobs, items.count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for i in stride(from: worker, to: items.count, by: workers) {
                let result = examine(items[i], known: known[items[i].url]?.stamp)
                results.withLock { $0[i] = result }
            }
        }
        return results.withLock { $0 }.map { $0! }
    }
}

extension IndexOperation {
    /// Indexes `urls` into `index`, adding to `summary`.
    func indexRemote(_ urls: [String], index: ArchiveIndex, known: [String: ArchiveIndex.KnownFile],
                     summary: inout Summary, reporter: Reporter) throws {
        let (items, prefixes, problems) = RemoteIndexer.expand(urls)
        for problem in problems {
            reporter.problem(problem)
            summary.failed += 1
        }
        // Objects whose listing says they are unchanged cost nothing.
        var toRead: [RemoteIndexer.Item] = []
        for item in items {
            if !rebuild, let listed = item.listed, let previous = known[item.url], let etag = listed.etag,
               previous.stamp.etag == etag, previous.stamp.size == Int64(listed.size) {
                count(unchanged: previous.status, in: &summary)
                continue
            }
            toRead.append(item)
        }
        let indexer = RemoteIndexer(options: DicomFileLoader(stopBeforePixels: true).options)
        let location = self.location
        var done = 0
        for start in stride(from: 0, to: toRead.count, by: batchSize) {
            let batch = Array(toRead[start..<min(start + batchSize, toRead.count)])
            let results = indexer.examine(batch, known: rebuild ? [:] : known, jobs: remoteJobs)
            var files: [IndexedFile] = []
            for (item, result) in zip(batch, results) {
                if let message = result.message {
                    if result.isProblem { reporter.problem(message) } else { reporter.warning(message) }
                }
                if let file = result.file { files.append(file) } else if let previous = known[item.url] {
                    count(unchanged: previous.status, in: &summary)
                }
            }
            let outcomes: [RecordOutcome]
            do {
                // Another URL with the same SOP Instance UID is taken to still exist (asking would cost a request).
                outcomes = try index.record(files) { stored in RemoteAccess.isRemote(stored) || statFile(location.absolute(stored)) != nil }
            } catch {
                throw DwcError(error)
            }
            tally(files, outcomes, into: &summary, reporter: reporter)
            done += batch.count
            reporter.progress?(done, toRead.count)
        }
        // Forget objects gone from a listed prefix.
        if prune, !prefixes.isEmpty {
            let listed = Set(items.map(\.url))
            let gone = known.keys.filter { stored in !listed.contains(stored) && prefixes.contains { stored.hasPrefix($0) } }
            do { summary.removed += try index.remove(paths: gone.sorted()) } catch { throw DwcError(error) }
        }
    }

    func count(unchanged status: FileStatus, in summary: inout Summary) {
        summary.unchanged += 1
        switch status {
        case .notDicom: summary.notDicom += 1
        case .dicomdir: summary.dicomdir += 1
        case .duplicate: summary.duplicates += 1
        case .failed: summary.failed += 1
        case .instance: break
        }
    }

    func tally(_ files: [IndexedFile], _ outcomes: [RecordOutcome], into summary: inout Summary, reporter: Reporter) {
        for (file, outcome) in zip(files, outcomes) {
            switch outcome {
            case .added: summary.added += 1
            case .updated: summary.updated += 1
            case .duplicate(let existing):
                summary.duplicates += 1
                if case .instance(let record) = file {
                    reporter.warning("\(location.absolute(record.path)): duplicate of \(location.absolute(existing)) (same SOPInstanceUID \(record.sopUID)); not indexed")
                }
            case .other:
                if case .other(_, _, let status, _) = file {
                    switch status {
                    case .notDicom: summary.notDicom += 1
                    case .dicomdir: summary.dicomdir += 1
                    default: summary.failed += 1
                    }
                }
            }
        }
    }
}
