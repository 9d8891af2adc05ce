import DicomCore
import DicomIndex
import DicomParser

/// What a WADO-style command was asked for: files, SOP Instance UIDs, "-", a study, a series.
public struct InstanceSelection: Sendable {
    /// Paths, SOP Instance UIDs (looked up in the index), or "-" (a Part 10 stream on stdin), in
    /// the order given (command-line arguments, then `--uids-from` lines).
    public var inputs: [String] = []
    /// SOP Instance UIDs that must be found in the index (never taken as paths).
    public var instanceUIDs: [String] = []
    public var studyUID: String?
    public var seriesUID: String?

    public init(inputs: [String] = [], instanceUIDs: [String] = [], studyUID: String? = nil, seriesUID: String? = nil) {
        self.inputs = inputs
        self.instanceUIDs = instanceUIDs
        self.studyUID = studyUID
        self.seriesUID = seriesUID
    }

    public var isEmpty: Bool { inputs.isEmpty && instanceUIDs.isEmpty && studyUID == nil && seriesUID == nil }
}

/// One instance to deliver: where its file is and what the index knows about it.
public struct ResolvedInstance: Sendable {
    /// Absolute path of the file, a URL, or "-" for standard input.
    public var path: String
    /// The index row, when the index knows the file.
    public var stored: StoredInstance?
    /// The file's size, mtime and inode still equal the index row's (so its UIDs and transfer
    /// syntax can be taken from the index without reading the file).
    public var unchanged: Bool

    public var isStandardInput: Bool { path == "-" }
}

/// Turns an `InstanceSelection` into files, in a documented order: explicit inputs in the order
/// given, then `--instance` UIDs, then the instances of `--series`/`--study` as the index orders
/// them (study date, study UID, series number, series UID, instance number, SOP Instance UID;
/// missing numbers last). A file named twice is delivered once (its first place).
///
/// Everything that cannot be found (no such file, UID not in the index, no index, an empty
/// series) is an error (exit 21) before anything is delivered. A file the index names but that
/// is gone is resolved anyway: the command reports it when it reads it.
public struct InstanceResolver: Sendable {
    public var location: ArchiveLocation

    public init(location: ArchiveLocation) { self.location = location }

    /// `openIndex`, when given, is used instead of opening the index file (a caller that makes
    /// several requests, such as `dwc bench metadata`, opens it once).
    public func resolve(_ selection: InstanceSelection, openIndex: ArchiveIndex? = nil) throws -> [ResolvedInstance] {
        var lazyIndex: ArchiveIndex?? = openIndex.map { .some($0) }
        func index(for what: String) throws -> ArchiveIndex {
            if lazyIndex == nil { lazyIndex = .some(try openIndexIfPresent()) }
            guard let index = lazyIndex! else {
                throw DwcError(.noInput, "\(what): no index to look it up in (\(location.indexPath)); run dwc index first")
            }
            return index
        }
        func knownIndex() throws -> ArchiveIndex? {
            if lazyIndex == nil { lazyIndex = .some(try openIndexIfPresent()) }
            return lazyIndex!
        }

        var result: [ResolvedInstance] = []
        var seen = Set<String>()
        func add(_ instance: ResolvedInstance) {
            if seen.insert(instance.path).inserted { result.append(instance) }
        }

        for input in selection.inputs {
            if input == "-" {
                add(ResolvedInstance(path: "-", stored: nil, unchanged: false))
                continue
            }
            if RemoteAccess.isRemote(input) {
                // A URL is read as it is; the index row (if it was indexed) gives its frame table.
                // Whether it changed is only known from its ETag, with the first request.
                let stored = try knownIndex().flatMap { index in try wrap { try index.instance(storedPath: input) } }
                add(ResolvedInstance(path: input, stored: stored, unchanged: false))
                continue
            }
            if let found = statFile(input) {
                let absolute = absolutePath(input)
                var stored: StoredInstance?
                if let index = try knownIndex() {
                    stored = try wrap { try index.instance(storedPath: location.storedPath(forAbsolute: absolute)) }
                }
                add(ResolvedInstance(path: absolute, stored: stored, unchanged: stored.map { Self.matches(found, $0) } ?? false))
                continue
            }
            if Self.looksLikeUID(input) {
                add(try lookUp(sopUID: input, index: try index(for: input)))
                continue
            }
            if isDirectory(input) {
                throw DwcError(.cannotReadInput, "\(input): is a directory (give files, UIDs, --series or --study)")
            }
            throw DwcError(.noInput, "\(input): no such file")
        }
        for uid in selection.instanceUIDs {
            add(try lookUp(sopUID: uid, index: try index(for: uid)))
        }
        if selection.studyUID != nil || selection.seriesUID != nil {
            let what = [selection.studyUID.map { "study \($0)" }, selection.seriesUID.map { "series \($0)" }]
                .compactMap { $0 }.joined(separator: ", ")
            let index = try index(for: what)
            let stored = try wrap { try index.instances(studyUID: selection.studyUID, seriesUID: selection.seriesUID) }
            if stored.isEmpty { throw DwcError(.noInput, "\(what): no instances in \(location.indexPath)") }
            for instance in stored {
                let path = location.absolute(instance.path)
                add(ResolvedInstance(path: path, stored: instance, unchanged: statFile(path).map { Self.matches($0, instance) } ?? false))
            }
        }
        guard !result.isEmpty else {
            throw DwcError(.noInput, "nothing selected: give files, SOP Instance UIDs, --instance, --series or --study")
        }
        return result
    }

    private func lookUp(sopUID: String, index: ArchiveIndex) throws -> ResolvedInstance {
        guard let stored = try wrap({ try index.instance(sopUID: sopUID) }) else {
            throw DwcError(.noInput, "\(sopUID): no such SOP Instance UID in \(location.indexPath)")
        }
        let path = location.absolute(stored.path)
        return ResolvedInstance(path: path, stored: stored, unchanged: statFile(path).map { Self.matches($0, stored) } ?? false)
    }

    static func matches(_ file: FoundFile, _ stored: StoredInstance) -> Bool {
        file.size == stored.stamp.size && file.mtimeNanoseconds == stored.stamp.mtimeNanoseconds && file.inode == stored.stamp.inode
    }

    /// A UID-shaped argument (digits and dots), valid or not: such a string is looked up in the
    /// index rather than reported as a missing file.
    static func looksLikeUID(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E }
    }

    private func openIndexIfPresent() throws -> ArchiveIndex? {
        guard statFile(location.indexPath) != nil else { return nil }
        return try wrap { try ArchiveIndex(path: location.indexPath, create: false) }
    }

    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw DwcError(error) }
    }
}
