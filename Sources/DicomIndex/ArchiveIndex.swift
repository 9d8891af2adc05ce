import DicomCore
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
    /// Opened for reading only (`create: false`): no journal-mode switch, no write lock ever.
    public let isReadOnly: Bool

    /// Opens the index, creating it when `create` is set. An index of another schema version or
    /// attribute set is stale (IndexError.stale) unless `create` and `rebuild` are both set.
    ///
    /// Without `create` the connection is read-only: searches and look-ups run one query to
    /// check the schema and nothing else (the WAL mode is a property of the file, set once by
    /// the writer that made it). The rare write of a reader (a frame table) opens a second,
    /// writable connection then.
    public init(path: String, create: Bool, rebuild: Bool = false) throws {
        isReadOnly = !create
        // Creating an index waits for another process's build of it (IndexBuild).
        let creationLock = create && !fileExists(path) ? BuildLock(indexPath: path) : nil
        defer { withExtendedLifetime(creationLock) {} }
        database = try SQLiteDatabase(path: path, readOnly: !create)
        if create {
            try Self.prepareForWriting(database, path: path)
        } else {
            // Searches touch pages all over the file: mapping them saves a read() per page.
            try? database.execute("PRAGMA mmap_size=1073741824")
        }
        if create, rebuild {
            try database.writeTransaction {
                for table in ["instances", "series", "studies", "files", "dwc_meta"] {
                    try database.execute("DROP TABLE IF EXISTS \(table)")
                }
            }
        }
        let stored = try storedMeta()
        guard let stored else {
            guard create else { throw IndexError(.database, path: path, "no index here: run dwc index first") }
            try database.writeTransaction {
                // Another process may have created it meanwhile: IF NOT EXISTS everywhere.
                for statement in IndexSchema.createStatements { try database.execute(statement) }
                try insertMeta()
            }
            return
        }
        if stored.version != IndexSchema.version || stored.signature != QueryAttributes.signature {
            throw IndexError(.stale, path: path,
                             "index made by another version of dwc (schema \(stored.version ?? "?")): run dwc index --rebuild")
        }
    }

    /// Starts building a new index for `path` when there is none (IndexBuild): loaded in one
    /// transaction into a private file, published by `publish()`. nil when an index is there
    /// already (or what is left of one: its WAL or shared-memory file), or appeared while this
    /// process waited for another's build.
    public static func startBuilding(at path: String) throws -> ArchiveIndex? {
        guard !fileExists(path) else { return nil }
        guard let lock = BuildLock(indexPath: path) else { return nil }
        for suffix in ["", "-wal", "-shm"] where fileExists(path + suffix) { return nil }
        IndexBuild.removeAbandoned(for: path)
        let temporary = IndexBuild.temporaryPath(for: path, pid: getpid())
        unlink(temporary)
        return try ArchiveIndex(building: IndexBuild(temporaryPath: temporary, finalPath: path, lock: lock))
    }

    private init(building: IndexBuild) throws {
        isReadOnly = false
        database = try SQLiteDatabase(path: building.temporaryPath)
        build = building
        // No journal and no syncs: until it is published the file is this process's alone, and
        // a crash leaves only a file that the next build removes. The page cache holds the
        // pages being loaded (the load is one transaction).
        try database.execute("""
            PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY;
            PRAGMA cache_size=-65536; BEGIN
            """)
        for statement in IndexSchema.createStatements { try database.execute(statement) }
        try insertMeta()
    }

    private func insertMeta() throws {
        try database.prepare("INSERT OR IGNORE INTO dwc_meta(key, value) VALUES ('schema_version', ?), ('attribute_signature', ?)")
            .run([.text(IndexSchema.version), .text(QueryAttributes.signature)])
    }

    /// Set while this is a new index being built (startBuilding).
    private var build: IndexBuild?
    /// The study and series rows a build wrote so far (record's BatchKeys for its transaction).
    private var buildKeys: BatchKeys?

    deinit {
        // A build that was not published (an error ended the run) leaves nothing behind.
        if let build {
            writerStatements = nil
            database.close()
            unlink(build.temporaryPath)
        }
    }

    /// Completes a new index begun by startBuilding: the statistics are gathered, the file
    /// switches to WAL (as every index is), is synced and renamed to its name. This object is
    /// closed afterwards.
    public func publish() throws {
        guard let build else { return }
        try database.execute("COMMIT")
        try optimize()
        try database.execute("PRAGMA journal_mode=WAL")
        writerStatements = nil
        database.close()
        self.build = nil
        do {
            try IndexBuild.sync(file: build.temporaryPath)
            // The lock keeps other dwc processes from creating an index meanwhile; another
            // program might have.
            guard !fileExists(build.finalPath) else {
                throw IndexError(.database, path: build.finalPath, "another program created the index while dwc built it: run dwc index again")
            }
            guard rename(build.temporaryPath, build.finalPath) == 0 else {
                throw IndexError(.database, path: build.finalPath, "cannot rename the new index into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(build.temporaryPath)
            throw error
        }
        IndexBuild.sync(directoryOf: build.finalPath)
        withExtendedLifetime(build.lock) {}
    }

    /// WAL (readers never wait for the writer), and the pragmas of a writing connection.
    private static func prepareForWriting(_ database: SQLiteDatabase, path: String) throws {
        // Switching a new database to WAL needs an exclusive lock, and SQLite may answer "locked"
        // at once instead of waiting when other processes are opening it at the same moment.
        var attempt = 0
        while true {
            do {
                // synchronous=NORMAL in WAL: a commit survives a crash of the process, and the
                // index stays consistent after a power loss (the last commits may be lost: a
                // re-run of dwc index reads those files again). A larger page cache keeps the
                // b-tree pages a bulk load touches in memory. Foreign keys are not enforced
                // (a quarter of the writer's SQLite time): the writer keeps the references by
                // construction (parents upserted first, emptied parents deleted last), and the
                // tests run PRAGMA foreign_key_check after concurrent runs. The WAL is
                // checkpointed every 64 MiB instead of every 4 MiB: a bulk load rewrites the same
                // b-tree pages batch after batch, and each checkpoint copied them again (a cold
                // index of the 5,000-file corpus took about 9% less time); closing the last
                // connection still checkpoints and removes the WAL.
                try database.execute("""
                    PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY;
                    PRAGMA cache_size=-32768; PRAGMA wal_autocheckpoint=16384
                    """)
                return
            } catch let error as IndexError where error.message.contains("locked") && attempt < 200 {
                attempt += 1
                usleep(50_000)
            } catch {
                throw IndexError(.database, path: path, "not a usable SQLite index (\(error))")
            }
        }
    }

    private var writableConnection: SQLiteDatabase?

    /// This connection, or for a read-only index a second one that may write (made once).
    func writableDatabase() throws -> SQLiteDatabase {
        if !isReadOnly { return database }
        if let writableConnection { return writableConnection }
        let db = try SQLiteDatabase(path: path, readOnly: false)
        writableConnection = db
        return db
    }

    /// The stored schema version and attribute signature in one query; nil when the database has
    /// no dwc tables (a new or empty file).
    private func storedMeta() throws -> (version: String?, signature: String?)? {
        let statement: Statement
        do {
            statement = try database.prepare("""
                SELECT (SELECT value FROM dwc_meta WHERE key = 'schema_version'),
                       (SELECT value FROM dwc_meta WHERE key = 'attribute_signature')
                """)
        } catch let error as IndexError where error.message.contains("no such table") {
            return nil
        } catch {
            throw IndexError(.database, path: path, "not a usable SQLite index (\(error))")
        }
        defer { statement.reset() }
        do {
            guard try statement.step(), !(statement.isNull(0) && statement.isNull(1)) else { return nil }
        } catch {
            throw IndexError(.database, path: path, "not a usable SQLite index (\(error))")
        }
        return (statement.text(0), statement.text(1))
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
        // Sized first: growing it 13 times was a sixth of reading it.
        let count = try database.prepare("SELECT (SELECT count(*) FROM files) + (SELECT count(*) FROM instances)")
        if try count.step() { result.reserveCapacity(Int(count.int(0))) }
        count.reset()
        // Instances are known by their own row; `files` holds the files that are not instances.
        let statement = try database.prepare("""
            SELECT path, size, mtime_ns, inode, status, etag FROM files
            UNION ALL SELECT path, size, mtime_ns, inode, 'instance', etag FROM instances
            """)
        while try statement.step() {
            let stamp = InstanceRecord.FileStamp(size: statement.int(1), mtimeNanoseconds: statement.int(2), inode: statement.int(3),
                                                 etag: statement.text(5))
            result[statement.text(0) ?? ""] = KnownFile(stamp: stamp, status: FileStatus(rawValue: statement.text(4) ?? "") ?? .failed)
        }
        return result
    }

    // MARK: Writing

    /// The writer's statements, prepared once per connection: looking them up by their SQL text
    /// would hash kilobytes of text per instance.
    private final class WriterStatements {
        let lookup, upsertStudy, upsertSeries, upsertInstance, insertNewInstance, upsertFile, deleteFile: Statement
        let insertNewStudy, insertNewSeries: Statement
        let findByPath, deleteInstanceByPath, refreshSeries, deleteEmptySeries, refreshStudy, deleteEmptyStudy: Statement
        let addToSeries, studySOPClasses, refreshStudyAdded: Statement

        init(_ db: SQLiteDatabase) throws {
            // One look-up finds both the instance this path held before and the row that already
            // has this SOP Instance UID (a duplicate, a moved file, or the same file again).
            lookup = try db.prepareUncached("""
                SELECT i.path, i.sop_uid, i.series_pk, s.study_pk FROM instances i JOIN series s USING (series_pk)
                WHERE i.path = ?1 OR i.sop_uid = ?2
                """)
            upsertStudy = try db.prepareUncached(ArchiveIndex.upsertSQL(.study))
            upsertSeries = try db.prepareUncached(ArchiveIndex.upsertSQL(.series))
            insertNewStudy = try db.prepareUncached(ArchiveIndex.insertOrIgnoreSQL(.study))
            insertNewSeries = try db.prepareUncached(ArchiveIndex.insertOrIgnoreSQL(.series))
            upsertInstance = try db.prepareUncached(ArchiveIndex.upsertSQL(.instance))
            insertNewInstance = try db.prepareUncached(ArchiveIndex.insertOrIgnoreSQL(.instance))
            upsertFile = try db.prepareUncached("""
                INSERT INTO files(path, size, mtime_ns, inode, etag, status, message) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, inode = excluded.inode,
                  etag = excluded.etag, status = excluded.status, message = excluded.message
                """)
            deleteFile = try db.prepareUncached("DELETE FROM files WHERE path = ?")
            findByPath = try db.prepareUncached("SELECT i.series_pk, s.study_pk FROM instances i JOIN series s USING (series_pk) WHERE i.path = ?")
            deleteInstanceByPath = try db.prepareUncached("DELETE FROM instances WHERE path = ?")
            refreshSeries = try db.prepareUncached(
                "UPDATE series SET num_instances = (SELECT count(*) FROM instances WHERE series_pk = ?1) WHERE series_pk = ?1")
            deleteEmptySeries = try db.prepareUncached("DELETE FROM series WHERE series_pk = ? AND num_instances = 0")
            // A study's counts and modalities, from its series.
            let studyCounts = """
                num_series = (SELECT count(*) FROM series WHERE study_pk = ?1),
                num_instances = (SELECT coalesce(sum(num_instances), 0) FROM series WHERE study_pk = ?1),
                modalities = (SELECT group_concat(m, '\\') FROM (SELECT DISTINCT modality AS m FROM series
                              WHERE study_pk = ?1 AND modality IS NOT NULL ORDER BY m))
                """
            refreshStudy = try db.prepareUncached("""
                UPDATE studies SET \(studyCounts),
                  sop_classes = (SELECT group_concat(c, '\\') FROM (SELECT DISTINCT i.sop_class_uid AS c FROM instances i
                                 JOIN series s USING (series_pk) WHERE s.study_pk = ?1 AND c IS NOT NULL ORDER BY c))
                WHERE study_pk = ?1
                """)
            deleteEmptyStudy = try db.prepareUncached("DELETE FROM studies WHERE study_pk = ? AND num_series = 0")
            // Series and studies that only gained instances: counted from the series table and
            // the SOP classes merged in Swift, without reading every instance row of the study.
            addToSeries = try db.prepareUncached("UPDATE series SET num_instances = num_instances + ?2 WHERE series_pk = ?1")
            studySOPClasses = try db.prepareUncached("SELECT sop_classes FROM studies WHERE study_pk = ?")
            refreshStudyAdded = try db.prepareUncached("UPDATE studies SET \(studyCounts), sop_classes = ?2 WHERE study_pk = ?1")
        }
    }

    private var writerStatements: WriterStatements?

    private func writer() throws -> WriterStatements {
        if let writerStatements { return writerStatements }
        let made = try WriterStatements(try writableDatabase())
        writerStatements = made
        return made
    }

    /// Records a batch in one transaction; `isLive(path)` tells whether a stored path still
    /// holds a file (to tell a duplicate from a moved file).
    public func record(_ files: [IndexedFile], isLive: (String) -> Bool) throws -> [RecordOutcome] {
        // An index opened for reading records through its writable connection (retrieve-frames
        // re-reads an object that changed since it was indexed).
        let st = try writer(), db = try writableDatabase()
        return try db.writeTransaction {
            var touched = Touched()
            var outcomes: [RecordOutcome] = []
            outcomes.reserveCapacity(files.count)
            // A build is one transaction: what it wrote holds for all its batches.
            var batch = build != nil ? buildKeys.take() ?? BatchKeys() : BatchKeys()
            for file in files {
                outcomes.append(try record(file, isLive: isLive, st: st, batch: &batch, touched: &touched))
            }
            if build != nil { buildKeys = batch }
            try refreshAggregates(touched, st: st)
            return outcomes
        }
    }

    /// Series and studies whose aggregates a transaction must recompute: in full when anything
    /// left or changed in them, or by the instances added when that is all that happened (the
    /// usual case when indexing new files: a full refresh re-read every instance row of each
    /// touched study, about 5% of a cold index).
    private struct Touched {
        var series = Set<Int64>(), studies = Set<Int64>()
        /// Instances added per series, and SOP classes added per study, in this transaction.
        var addedToSeries: [Int64: Int] = [:]
        var addedClasses: [Int64: Set<String>] = [:]

        mutating func insert(series: Int64, study: Int64) {
            self.series.insert(series)
            studies.insert(study)
        }

        mutating func added(series: Int64, study: Int64, sopClass: String?) {
            addedToSeries[series, default: 0] += 1
            // The study is listed even without a class, so that its counts are refreshed.
            var classes = addedClasses[study] ?? []
            if let sopClass { classes.insert(sopClass) }
            addedClasses[study] = classes
        }
    }

    /// Study and series rows already written in this transaction, with the values written: a
    /// later instance with the same values needs no upsert (the usual case: every instance of a
    /// study repeats its study attributes); one with other values still fills in what is missing.
    private struct BatchKeys {
        var studies: [String: (pk: Int64, values: ColumnValues)] = [:]
        var series: [String: (pk: Int64, values: ColumnValues)] = [:]
    }

    private func record(_ file: IndexedFile, isLive: (String) -> Bool, st: WriterStatements, batch: inout BatchKeys,
                        touched: inout Touched) throws -> RecordOutcome {
        switch file {
        case .other(let path, let stamp, let status, let message):
            try removeInstance(atPath: path, st: st, touched: &touched)
            try upsertFile(path: path, stamp: stamp, status: status, message: message, st: st)
            return .other
        case .instance(let record):
            // The usual case, a file new to the index, costs one INSERT OR IGNORE: it skips the
            // row only when the path or the SOP Instance UID is there already, and only then does
            // the look-up below find out whether the file changed, moved or is a duplicate (it was
            // a twelfth of the writer's work for every file).
            let (studyPK, seriesPK) = try parents(of: record, st: st, batch: &batch)
            if try insertInstance(st.insertNewInstance, record, seriesPK: seriesPK, ifNew: true) {
                touched.added(series: seriesPK, study: studyPK, sopClass: record.sopClassUID)
                try st.deleteFile.run([.text(record.path)])
                return .added
            }
            // Study and series rows written for a duplicate of another study's instance stay
            // empty: the full refresh of what it touched removes them.
            touched.insert(series: seriesPK, study: studyPK)
            let lookup = st.lookup
            lookup.bind(.text(record.path), at: 1)
            lookup.bind(.text(record.sopUID), at: 2)
            var pathHeldOther = false
            var existingPath: String?
            var outcome: RecordOutcome = .added
            while try lookup.step() {
                let path = lookup.text(0), sop = lookup.text(1)
                if path == record.path { outcome = .updated }
                if path == record.path, sop != record.sopUID { pathHeldOther = true }
                if sop == record.sopUID {
                    existingPath = path
                    touched.insert(series: lookup.int(2), study: lookup.int(3))
                }
            }
            if let existing = existingPath, existing != record.path {
                if isLive(existing) {
                    if pathHeldOther { try removeInstance(atPath: record.path, st: st, touched: &touched) }
                    try upsertFile(path: record.path, stamp: record.stamp, status: .duplicate,
                                   message: "same SOPInstanceUID as \(existing)", st: st)
                    return .duplicate(of: existing)
                }
                outcome = .updated  // the file moved
                try st.deleteFile.run([.text(existing)])
            }
            if pathHeldOther { try removeInstance(atPath: record.path, st: st, touched: &touched) }
            _ = try insertInstance(st.upsertInstance, record, seriesPK: seriesPK, ifNew: false)
            // The instance row is the file's record; a row of `files` from when this path held no
            // instance goes (an insert there per instance was a twentieth of a cold index).
            try st.deleteFile.run([.text(record.path)])
            return outcome
        }
    }

    /// The study and series rows of an instance (upserted unless this transaction already wrote
    /// them with the same values).
    private func parents(of record: InstanceRecord, st: WriterStatements, batch: inout BatchKeys) throws -> (study: Int64, series: Int64) {
        let studyPK: Int64
        if let written = batch.studies[record.studyUID], written.values == record.studyValues {
            studyPK = written.pk
        } else {
            studyPK = try upsert(st.insertNewStudy, else: st.upsertStudy, record.studyValues, extra: [])
            batch.studies[record.studyUID] = (studyPK, record.studyValues)
        }
        let seriesPK: Int64
        if let written = batch.series[record.seriesUID], written.values == record.seriesValues {
            seriesPK = written.pk
        } else {
            seriesPK = try upsert(st.insertNewSeries, else: st.upsertSeries, record.seriesValues, extra: [.integer(studyPK)])
            batch.series[record.seriesUID] = (seriesPK, record.seriesValues)
        }
        return (studyPK, seriesPK)
    }

    private func upsertFile(path: String, stamp: InstanceRecord.FileStamp, status: FileStatus, message: String,
                            st: WriterStatements) throws {
        try st.upsertFile.run([.text(path), .integer(stamp.size), .integer(stamp.mtimeNanoseconds), .integer(stamp.inode),
                               SQLValue(stamp.etag), .text(status.rawValue), .text(message)])
    }

    /// The columns a level's upsert binds after the attribute columns.
    private static func extraColumns(_ level: QueryLevel) -> [String] {
        switch level {
        case .study: return []
        case .series: return ["study_pk"]
        case .instance:
            return ["series_pk", "path", "size", "mtime_ns", "inode", "etag", "transfer_syntax", "pixel_offset", "pixel_length",
                    "pixel_encapsulated", "frame_table"]
        }
    }

    /// Inserts or updates the row of one level and returns its primary key. Study and series
    /// values missing from this instance keep what other instances gave; an instance row is
    /// replaced.
    /// A row of the level, skipped when it would break a UNIQUE constraint.
    static func insertOrIgnoreSQL(_ level: QueryLevel) -> String {
        let columns = IndexSchema.columns(for: level).map(\.name) + extraColumns(level)
        return "INSERT OR IGNORE INTO \(level.table)(\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
    }

    static func upsertSQL(_ level: QueryLevel) -> String {
        let key: String, pk: String?
        switch level {
        case .study: key = "study_uid"; pk = "study_pk"
        case .series: key = "series_uid"; pk = "series_pk"
        case .instance: key = "sop_uid"; pk = nil  // not needed: no RETURNING
        }
        let columns = IndexSchema.columns(for: level).map(\.name) + extraColumns(level)
        let updates = columns.filter { $0 != key }.map { column in
            level == .instance ? "\(column) = excluded.\(column)" : "\(column) = COALESCE(excluded.\(column), \(column))"
        }
        return "INSERT INTO \(level.table)(\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", "))) "
            + "ON CONFLICT(\(key)) DO UPDATE SET \(updates.joined(separator: ", "))" + (pk.map { " RETURNING \($0)" } ?? "")
    }

    /// A new row is a plain insert (`insert`, an INSERT OR IGNORE); only an existing one takes
    /// the upsert (its RETURNING clause made every first write of a study or series cost 56 K
    /// instructions instead of 33 K).
    private func upsert(_ insert: Statement, else statement: Statement, _ values: ColumnValues, extra: [SQLValue]) throws -> Int64 {
        let database = try writableDatabase()
        let inserted = try bind(insert, values, extra) { () throws -> Bool in
            while try insert.step() {}
            return insert.changes > 0
        }
        if inserted { return database.lastInsertRowID }
        return try bind(statement, values, extra) {
            guard try statement.step() else { throw database.error("upsert returned nothing") }
            let result = statement.int(0)
            statement.reset()
            return result
        }
    }

    /// Writes the instance's row with `statement` (the upsert, or with `ifNew` the INSERT OR
    /// IGNORE); returns whether a row was written.
    private func insertInstance(_ statement: Statement, _ record: InstanceRecord, seriesPK: Int64, ifNew: Bool) throws -> Bool {
        try bind(statement, record.instanceValues, [
            .integer(seriesPK), .text(record.path), .integer(record.stamp.size), .integer(record.stamp.mtimeNanoseconds),
            .integer(record.stamp.inode), SQLValue(record.stamp.etag), .text(record.transferSyntax),
            record.pixelOffset.map { .integer(Int64($0)) } ?? .null, record.pixelLength.map { .integer(Int64($0)) } ?? .null,
            .integer(record.pixelEncapsulated ? 1 : 0), record.frameTable.map { .blob($0) } ?? .null,
        ]) {
            while try statement.step() {}
            return !ifNew || statement.changes > 0
        }
    }

    /// The attribute columns, then the columns of `extraColumns`, for the duration of `body`.
    private func bind<R>(_ statement: Statement, _ values: ColumnValues, _ extra: [SQLValue], _ body: () throws -> R) throws -> R {
        var i = Int32(values.count) + 1
        for value in extra { statement.bind(value, at: i); i += 1 }
        return try statement.withBindings(values, from: 1, body)
    }

    private func removeInstance(atPath path: String, st: WriterStatements, touched: inout Touched) throws {
        let find = st.findByPath
        find.bind(.text(path), at: 1)
        if try find.step() {
            touched.insert(series: find.int(0), study: find.int(1))
            find.reset()
        }
        try st.deleteInstanceByPath.run([.text(path)])
    }

    /// Forgets files that are gone (their instances too); returns how many instances went.
    public func remove(paths: [String]) throws -> Int {
        guard !paths.isEmpty else { return 0 }
        let st = try writer(), db = try writableDatabase()
        return try db.writeTransaction {
            var touched = Touched()
            var removed = 0
            for path in paths {
                try removeInstance(atPath: path, st: st, touched: &touched)
                removed += db.changes
                try st.deleteFile.run([.text(path)])
            }
            try refreshAggregates(touched, st: st)
            return removed
        }
    }

    /// Recomputes the counts and value lists QIDO-RS returns for studies and series, and drops
    /// series and studies left without instances.
    private func refreshAggregates(_ touched: Touched, st: WriterStatements) throws {
        for pk in touched.series {
            try st.refreshSeries.run([.integer(pk)])
            try st.deleteEmptySeries.run([.integer(pk)])
        }
        for (pk, count) in touched.addedToSeries where !touched.series.contains(pk) {
            try st.addToSeries.run([.integer(pk), .integer(Int64(count))])
        }
        for pk in touched.studies {
            try st.refreshStudy.run([.integer(pk)])
            try st.deleteEmptyStudy.run([.integer(pk)])
        }
        for (pk, added) in touched.addedClasses where !touched.studies.contains(pk) {
            let read = st.studySOPClasses
            read.bind(.integer(pk), at: 1)
            var classes = added
            if try read.step(), let stored = read.text(0) {
                for uid in stored.split(separator: "\\") { classes.insert(String(uid)) }
            }
            read.reset()
            // Sorted as SQLite's ORDER BY sorts them (UIDs are ASCII: byte order).
            let joined = classes.isEmpty ? SQLValue.null : .text(classes.sorted().joined(separator: "\\"))
            try st.refreshStudyAdded.run([.integer(pk), joined])
        }
    }
}
