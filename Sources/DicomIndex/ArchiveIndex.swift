import DicomCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One file as the indexer saw it.
public enum IndexedFile: Sendable {
    case instance(InstanceRecord)
    /// Not DICOM, a DICOMDIR, or a file that failed to parse: remembered so that an unchanged
    /// file is not read again.
    case other(path: String, stamp: InstanceRecord.FileStamp, status: FileStatus, message: String)
}

public enum FileStatus: String, Sendable {
    case instance, notDicom = "not-dicom", failed, duplicate, dicomdir
}

/// What recording one file did.
public enum RecordOutcome: Sendable, Equatable {
    case added, updated, duplicate(of: String), other
}

/// The archive's SQLite index: opened (and created) here, written by one writer per process
/// in batched transactions; WAL lets readers and other processes work meanwhile.
public final class ArchiveIndex {
    public let database: SQLiteDatabase
    public var path: String { database.path }

    /// Opens the index, creating it when `create` is set. An index of another schema version or
    /// attribute set is stale (IndexError.stale) unless `create` and `rebuild` are both set.
    public init(path: String, create: Bool, rebuild: Bool = false) throws {
        database = try SQLiteDatabase(path: path, readOnly: false)
        // Switching a new database to WAL needs an exclusive lock, and SQLite may answer "locked"
        // at once instead of waiting when other processes are opening it at the same moment.
        var attempt = 0
        while true {
            do {
                try database.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY")
                break
            } catch let error as IndexError where error.message.contains("locked") && attempt < 200 {
                attempt += 1
                usleep(50_000)
            } catch {
                throw IndexError(.database, path: path, "not a usable SQLite index (\(error))")
            }
        }
        if rebuild {
            try database.writeTransaction {
                for table in ["instances", "series", "studies", "files", "dwc_meta"] {
                    try database.execute("DROP TABLE IF EXISTS \(table)")
                }
            }
        }
        let stored = try storedMeta()
        if stored.isEmpty {
            guard create else { throw IndexError(.database, path: path, "no index here: run dwc index first") }
            try database.writeTransaction {
                // Another process may have created it meanwhile: IF NOT EXISTS everywhere.
                for statement in IndexSchema.createStatements { try database.execute(statement) }
                try database.prepare("INSERT OR IGNORE INTO dwc_meta(key, value) VALUES ('schema_version', ?), ('attribute_signature', ?)")
                    .run([.text(IndexSchema.version), .text(QueryAttributes.signature)])
            }
        } else if stored["schema_version"] != IndexSchema.version || stored["attribute_signature"] != QueryAttributes.signature {
            throw IndexError(.stale, path: path,
                             "index made by another version of dwc (schema \(stored["schema_version"] ?? "?")): run dwc index --rebuild")
        }
    }

    private func storedMeta() throws -> [String: String] {
        let exists = try database.prepare("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='dwc_meta'")
        let hasMeta = try exists.step() && exists.int(0) == 1
        exists.reset()
        guard hasMeta else { return [:] }
        var meta: [String: String] = [:]
        let statement = try database.prepare("SELECT key, value FROM dwc_meta")
        while try statement.step() { meta[statement.text(0) ?? ""] = statement.text(1) ?? "" }
        return meta
    }

    /// Refreshes the statistics SQLite's planner uses to choose between indexes (sampled, so it
    /// costs milliseconds even for a million rows).
    public func optimize() throws {
        try database.execute("PRAGMA analysis_limit=400; ANALYZE")
    }

    // MARK: Reading file stamps

    public struct KnownFile: Sendable {
        public var stamp: InstanceRecord.FileStamp
        public var status: FileStatus
    }

    /// Every file the index has seen, for incremental runs.
    public func knownFiles() throws -> [String: KnownFile] {
        var result: [String: KnownFile] = [:]
        let statement = try database.prepare("SELECT path, size, mtime_ns, inode, status, etag FROM files")
        while try statement.step() {
            let stamp = InstanceRecord.FileStamp(size: statement.int(1), mtimeNanoseconds: statement.int(2), inode: statement.int(3),
                                                 etag: statement.text(5))
            result[statement.text(0) ?? ""] = KnownFile(stamp: stamp, status: FileStatus(rawValue: statement.text(4) ?? "") ?? .failed)
        }
        return result
    }

    // MARK: Writing

    /// Records a batch in one transaction; `isLive(path)` tells whether a stored path still
    /// holds a file (to tell a duplicate from a moved file).
    public func record(_ files: [IndexedFile], isLive: (String) -> Bool) throws -> [RecordOutcome] {
        try database.writeTransaction {
            var touchedSeries = Set<Int64>(), touchedStudies = Set<Int64>()
            var outcomes: [RecordOutcome] = []
            var batch = BatchKeys()
            for file in files {
                outcomes.append(try record(file, isLive: isLive, batch: &batch, touchedSeries: &touchedSeries, touchedStudies: &touchedStudies))
            }
            try refreshAggregates(series: touchedSeries, studies: touchedStudies)
            return outcomes
        }
    }

    /// Study and series rows already written in this batch: written once per batch, not once
    /// per instance.
    private struct BatchKeys {
        var studies: [String: Int64] = [:]
        var series: [String: Int64] = [:]
    }

    private func record(_ file: IndexedFile, isLive: (String) -> Bool, batch: inout BatchKeys,
                        touchedSeries: inout Set<Int64>, touchedStudies: inout Set<Int64>) throws -> RecordOutcome {
        switch file {
        case .other(let path, let stamp, let status, let message):
            try removeInstance(atPath: path, touchedSeries: &touchedSeries, touchedStudies: &touchedStudies)
            try upsertFile(path: path, stamp: stamp, status: status, message: message)
            return .other
        case .instance(let record):
            // One look-up finds both the instance this path held before and the row that already
            // has this SOP Instance UID (a duplicate, a moved file, or the same file again).
            let lookup = try database.prepare("""
                SELECT i.path, i.sop_uid, i.series_pk, s.study_pk FROM instances i JOIN series s USING (series_pk)
                WHERE i.path = ?1 OR i.sop_uid = ?2
                """)
            lookup.bind([.text(record.path), .text(record.sopUID)])
            var pathHeldOther = false
            var existingPath: String?
            var outcome: RecordOutcome = .added
            while try lookup.step() {
                let path = lookup.text(0), sop = lookup.text(1)
                if path == record.path { outcome = .updated }
                if path == record.path, sop != record.sopUID { pathHeldOther = true }
                if sop == record.sopUID {
                    existingPath = path
                    touchedSeries.insert(lookup.int(2))
                    touchedStudies.insert(lookup.int(3))
                }
            }
            if let existing = existingPath, existing != record.path {
                if isLive(existing) {
                    if pathHeldOther {
                        try removeInstance(atPath: record.path, touchedSeries: &touchedSeries, touchedStudies: &touchedStudies)
                    }
                    try upsertFile(path: record.path, stamp: record.stamp, status: .duplicate, message: "same SOPInstanceUID as \(existing)")
                    return .duplicate(of: existing)
                }
                outcome = .updated  // the file moved
                try database.prepare("DELETE FROM files WHERE path = ?").run([.text(existing)])
            }
            if pathHeldOther {
                try removeInstance(atPath: record.path, touchedSeries: &touchedSeries, touchedStudies: &touchedStudies)
            }
            let studyPK = try batch.studies[record.studyUID] ?? upsertLevel(.study, record: record, parent: nil)
            batch.studies[record.studyUID] = studyPK
            let seriesPK = try batch.series[record.seriesUID] ?? upsertLevel(.series, record: record, parent: studyPK)
            batch.series[record.seriesUID] = seriesPK
            _ = try upsertLevel(.instance, record: record, parent: seriesPK)
            touchedSeries.insert(seriesPK)
            touchedStudies.insert(studyPK)
            try upsertFile(path: record.path, stamp: record.stamp, status: .instance, message: "")
            return outcome
        }
    }

    private func upsertFile(path: String, stamp: InstanceRecord.FileStamp, status: FileStatus, message: String) throws {
        try database.prepare("""
            INSERT INTO files(path, size, mtime_ns, inode, etag, status, message) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, inode = excluded.inode,
              etag = excluded.etag, status = excluded.status, message = excluded.message
            """).run([.text(path), .integer(stamp.size), .integer(stamp.mtimeNanoseconds), .integer(stamp.inode),
                      SQLValue(stamp.etag), .text(status.rawValue), .text(message)])
    }

    /// Values of one level's columns for a record, search columns included.
    private func columnValues(_ level: QueryLevel, _ record: InstanceRecord) -> [(String, SQLValue)] {
        var values: [(String, SQLValue)] = []
        for a in QueryAttributes.attributes(at: level) {
            if a.match == .integer {
                values.append((a.column, SQLValue(record.integers[a.tag])))
                continue
            }
            let text = record.text[a.tag]
            values.append((a.column, SQLValue(text)))
            switch a.match {
            case .personName:
                let groups = text.map(ValueNormalizer.nameGroups) ?? []
                for (i, suffix) in ["_a", "_i", "_p"].enumerated() {
                    values.append((a.column + suffix, groups.isEmpty ? .null : .text(groups[i])))
                }
                values.append((a.column + "_fuzzy", SQLValue(text.map(ValueNormalizer.fuzzyComponents))))
            case .time:
                values.append((a.column + "_sec", text.flatMap { ValueNormalizer.seconds($0) }.map { .real($0) } ?? .null))
            case .dateTime:
                values.append((a.column + "_norm", SQLValue(text.flatMap { ValueNormalizer.dateTime($0) })))
            default:
                break
            }
        }
        return values
    }

    /// Inserts or updates the row of one level and returns its primary key. Study and series
    /// values missing from this instance keep what other instances gave.
    private func upsertLevel(_ level: QueryLevel, record: InstanceRecord, parent: Int64?) throws -> Int64 {
        var values = columnValues(level, record)
        let key: String, pk: String
        switch level {
        case .study:
            key = "study_uid"; pk = "study_pk"
        case .series:
            key = "series_uid"; pk = "series_pk"
            values.append(("study_pk", .integer(parent!)))
        case .instance:
            key = "sop_uid"; pk = "instance_pk"
            values.append(("series_pk", .integer(parent!)))
            values.append(("path", .text(record.path)))
            values.append(("size", .integer(record.stamp.size)))
            values.append(("mtime_ns", .integer(record.stamp.mtimeNanoseconds)))
            values.append(("inode", .integer(record.stamp.inode)))
            values.append(("etag", SQLValue(record.stamp.etag)))
            values.append(("transfer_syntax", .text(record.transferSyntax)))
            values.append(("pixel_offset", record.pixelOffset.map { .integer(Int64($0)) } ?? .null))
            values.append(("pixel_length", record.pixelLength.map { .integer(Int64($0)) } ?? .null))
            values.append(("pixel_encapsulated", .integer(record.pixelEncapsulated ? 1 : 0)))
            values.append(("frame_table", record.frameTable.map { .blob($0) } ?? .null))
        }
        let sql = Self.upsertSQL(level, columns: values.map(\.0), key: key, primaryKey: pk)
        let statement = try database.prepare(sql)
        statement.bind(values.map(\.1))
        guard try statement.step() else { throw database.error("upsert into \(level.table) returned nothing") }
        let result = statement.int(0)
        statement.reset()
        return result
    }

    /// The upsert statement of a level; the column list is the same for every record, so the
    /// text is built once per level and column count.
    private static let upsertCache = Mutex<[String: String]>([:])

    private static func upsertSQL(_ level: QueryLevel, columns: [String], key: String, primaryKey: String) -> String {
        let cacheKey = "\(level.rawValue):\(columns.count)"
        if let cached = upsertCache.withLock({ $0[cacheKey] }) { return cached }
        let updates = columns.filter { $0 != key }.map { column in
            level == .instance ? "\(column) = excluded.\(column)" : "\(column) = COALESCE(excluded.\(column), \(column))"
        }
        let sql = "INSERT INTO \(level.table)(\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", "))) "
            + "ON CONFLICT(\(key)) DO UPDATE SET \(updates.joined(separator: ", ")) RETURNING \(primaryKey)"
        upsertCache.withLock { $0[cacheKey] = sql }
        return sql
    }

    private func removeInstance(atPath path: String, touchedSeries: inout Set<Int64>, touchedStudies: inout Set<Int64>) throws {
        let find = try database.prepare("SELECT i.series_pk, s.study_pk FROM instances i JOIN series s USING (series_pk) WHERE i.path = ?")
        find.bind([.text(path)])
        if try find.step() {
            touchedSeries.insert(find.int(0))
            touchedStudies.insert(find.int(1))
            find.reset()
        }
        try database.prepare("DELETE FROM instances WHERE path = ?").run([.text(path)])
    }

    /// Forgets files that are gone (their instances too); returns how many instances went.
    public func remove(paths: [String]) throws -> Int {
        guard !paths.isEmpty else { return 0 }
        return try database.writeTransaction {
            var touchedSeries = Set<Int64>(), touchedStudies = Set<Int64>()
            var removed = 0
            for path in paths {
                try removeInstance(atPath: path, touchedSeries: &touchedSeries, touchedStudies: &touchedStudies)
                removed += database.changes
                try database.prepare("DELETE FROM files WHERE path = ?").run([.text(path)])
            }
            try refreshAggregates(series: touchedSeries, studies: touchedStudies)
            return removed
        }
    }

    /// Recomputes the counts and value lists QIDO-RS returns for studies and series, and drops
    /// series and studies left without instances.
    private func refreshAggregates(series: Set<Int64>, studies: Set<Int64>) throws {
        for pk in series {
            try database.prepare("UPDATE series SET num_instances = (SELECT count(*) FROM instances WHERE series_pk = ?1) WHERE series_pk = ?1")
                .run([.integer(pk)])
            try database.prepare("DELETE FROM series WHERE series_pk = ? AND num_instances = 0").run([.integer(pk)])
        }
        for pk in studies {
            try database.prepare("""
                UPDATE studies SET
                  num_series = (SELECT count(*) FROM series WHERE study_pk = ?1),
                  num_instances = (SELECT coalesce(sum(num_instances), 0) FROM series WHERE study_pk = ?1),
                  modalities = (SELECT group_concat(m, '\\') FROM (SELECT DISTINCT modality AS m FROM series
                                WHERE study_pk = ?1 AND modality IS NOT NULL ORDER BY m)),
                  sop_classes = (SELECT group_concat(c, '\\') FROM (SELECT DISTINCT i.sop_class_uid AS c FROM instances i
                                 JOIN series s USING (series_pk) WHERE s.study_pk = ?1 AND c IS NOT NULL ORDER BY c))
                WHERE study_pk = ?1
                """).run([.integer(pk)])
            try database.prepare("DELETE FROM studies WHERE study_pk = ? AND num_series = 0").run([.integer(pk)])
        }
    }
}
