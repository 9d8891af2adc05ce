import DicomCore
import DicomIndex
import Foundation
import Testing

@Suite struct IndexStorageTests {
    /// A file whose SOP Instance UID is already indexed under another (live) path is a
    /// duplicate, whatever study it claims: nothing of it stays, not even the study and series
    /// rows the writer made before its insert was refused; a changed file is updated in place
    /// and a new one added, in the same batch.
    @Test func duplicatesLeaveNoRowsBehind() throws {
        let t = try TestIndex([TestInstance(study: "7.1", series: "7.1.1", sop: "7.1.1.1", ["PatientName": "Doe^Jane"])])
        let outcomes = try t.index.record([
            .instance(try TestInstance(study: "7.9", series: "7.9.1", sop: "7.1.1.1", path: "files/elsewhere.dcm").record()),
            .instance(try TestInstance(study: "7.1", series: "7.1.1", sop: "7.1.1.1", ["PatientName": "Doe^John"]).record()),
            .instance(try TestInstance(study: "7.1", series: "7.1.2", sop: "7.1.2.1").record()),
        ], isLive: { _ in true })
        #expect(outcomes == [.duplicate(of: "files/7.1.1.1.dcm"), .updated, .added])
        #expect(try t.uids(.study) == ["7.1"])
        #expect(try t.uids(.series) == ["7.1.1", "7.1.2"])
        #expect(try t.uids(.instance) == ["7.1.1.1", "7.1.2.1"])
        let counts = try t.search(.study)[0]
        #expect(counts.value(QueryAttributes.numberOfStudyRelatedInstances) == .integer(2))
        #expect(counts.value(QueryAttributes.numberOfStudyRelatedSeries) == .integer(2))
        let orphans = try t.index.database.prepare("PRAGMA foreign_key_check")
        #expect(try !orphans.step())
    }

    /// Objects indexed from URLs carry their HTTP ETag; local files store NULL and read back nil.
    @Test func etagIsKeptForInstancesAndFiles() throws {
        let index = try TestIndex()
        var remote = try TestInstance(study: "1.2.3", series: "1.2.3.1", sop: "1.2.3.1.1", path: "https://h/a.dcm").record()
        remote.stamp.etag = "\"abc-1\""
        let local = try TestInstance(study: "1.2.3", series: "1.2.3.1", sop: "1.2.3.1.2").record()
        let junkStamp = InstanceRecord.FileStamp(size: 3, mtimeNanoseconds: 4, inode: 0, etag: "W/\"j\"")
        _ = try index.index.record([.instance(remote), .instance(local),
                                    .other(path: "https://h/junk", stamp: junkStamp, status: .notDicom, message: "x")],
                                   isLive: { _ in true })
        #expect(try index.index.instance(sopUID: "1.2.3.1.1")?.stamp.etag == "\"abc-1\"")
        #expect(try index.index.instance(sopUID: "1.2.3.1.2")?.stamp.etag == nil)
        let known = try index.index.knownFiles()
        #expect(known["https://h/a.dcm"]?.stamp == remote.stamp)
        #expect(known["https://h/junk"]?.stamp.etag == "W/\"j\"")
        #expect(known[local.path]?.stamp.etag == nil)
    }
}

@Suite struct IndexReadingTests {
    /// Readers open read-only: a search runs while another connection holds the write lock
    /// mid-transaction, sees the last committed state, and never blocks that writer.
    @Test func readersWorkWhileAWriterIsMidTransaction() throws {
        let index = try TestIndex([study("1.1", ["StudyDescription": "before"])])
        let path = index.directory + "/index.sqlite"
        let writer = try ArchiveIndex(path: path, create: true)
        try writer.database.execute("BEGIN IMMEDIATE; UPDATE studies SET study_description = 'after'")
        let reader = try ArchiveIndex(path: path, create: false)
        #expect(reader.isReadOnly)
        func description(_ index: ArchiveIndex) throws -> String? {
            var results: [SearchResult] = []
            var query = SearchQuery(level: .study)
            query.keys = [try QueryKey(parsing: "StudyDescription")]
            try index.search(try query.plan()) { results.append($0) }
            return results.first?.value(Tag(0x0008, 0x1030))?.description
        }
        #expect(try description(reader) == "before")
        try writer.database.execute("COMMIT")
        #expect(try description(reader) == "after")
        // The reader's connection refuses writes of its own.
        #expect(throws: IndexError.self) { try reader.database.execute("UPDATE studies SET study_description = 'x'") }
        // And a writer commits while the reader's connection is open.
        try writer.database.execute("BEGIN IMMEDIATE; UPDATE studies SET study_description = 'again'; COMMIT")
        #expect(try description(reader) == "again")
    }

    /// Opening for reading sets no pragma that writes: an index in rollback-journal mode stays so.
    @Test func readingLeavesTheJournalModeAlone() throws {
        let index = try TestIndex()
        let path = index.directory + "/rollback.sqlite"
        _ = try ArchiveIndex(path: path, create: true)  // made in WAL mode, then closed
        try SQLiteDatabase(path: path).execute("PRAGMA journal_mode=DELETE")
        let reader = try ArchiveIndex(path: path, create: false)
        let mode = try reader.database.prepare("PRAGMA journal_mode")
        #expect(try mode.step())
        #expect(mode.text(0) == "delete")
    }

    @Test func readersReportMissingForeignAndStaleIndexes() throws {
        let index = try TestIndex([study("1.1")])
        let empty = index.directory + "/empty.sqlite"
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        #expect { try ArchiveIndex(path: empty, create: false) } throws: {
            ($0 as? IndexError)?.kind == .database && "\($0)".contains("no index here")
        }
        let junk = index.directory + "/junk.sqlite"
        #expect(FileManager.default.createFile(atPath: junk, contents: Data(String(repeating: "junk ", count: 400).utf8)))
        #expect { try ArchiveIndex(path: junk, create: false) } throws: { ($0 as? IndexError)?.kind == .database }
        let path = index.directory + "/index.sqlite"
        try SQLiteDatabase(path: path).execute("UPDATE dwc_meta SET value = '0' WHERE key = 'schema_version'")
        #expect { try ArchiveIndex(path: path, create: false) } throws: {
            ($0 as? IndexError)?.kind == .stale && "\($0)".contains("dwc index --rebuild")
        }
    }

    /// The one write a reader makes (a scanned frame table) goes through a second connection.
    @Test func aReadOnlyIndexStillStoresFrameTables() throws {
        let index = try TestIndex([study("1.1")])
        let reader = try ArchiveIndex(path: index.directory + "/index.sqlite", create: false)
        let stored = try #require(try reader.instance(sopUID: "1.1.1.1"))
        try reader.storeFrameTable([1, 2, 3], sopUID: stored.sopUID, stamp: stored.stamp)
        #expect(try reader.instance(sopUID: "1.1.1.1")?.frameTable == [1, 2, 3])
    }
}

@Suite struct RecordValueTests {
    /// Integers read from IS and US bytes agree with DataSet.int, including the forms the
    /// byte path leaves to it (several values, signs, padding).
    @Test func integersAsDataSetReadsThem() throws {
        let cases: [(series: String, instance: String, expected: (Int64?, Int64?))] = [
            ("+7 ", " -3", (7, -3)),
            ("12\\13", "x\\5", (12, 5)),
            ("", "007", (nil, 7)),
        ]
        for (n, c) in cases.enumerated() {
            let t = try TestIndex([TestInstance(study: "1.\(n)", series: "1.\(n).1", sop: "1.\(n).1.1",
                                                ["SeriesNumber": c.series, "InstanceNumber": c.instance, "Rows": "513"])])
            let result = try #require(try t.search(.instance, ["SeriesNumber", "InstanceNumber", "Rows"]).first)
            func number(_ tag: Tag) -> Int64? {
                if case .integer(let n)? = result.value(tag) { return n }
                return nil
            }
            #expect(number(Tag(0x0020, 0x0011)) == c.expected.0, "\(c.series)")
            #expect(number(Tag(0x0020, 0x0013)) == c.expected.1, "\(c.instance)")
            #expect(number(Tag(0x0028, 0x0010)) == 513)
        }
    }

    /// The per-thread cache of search values must not give a date-time the UTC form it had in
    /// another data set's TimezoneOffsetFromUTC.
    @Test func cachedDateTimesKeepTheirDataSetsZone() throws {
        let cache = SearchValueCache()
        func norm(_ zone: String?, _ n: Int) throws -> [SQLValue] {
            var values = ["AcquisitionDateTime": "20240101120000"]
            if let zone { values["TimezoneOffsetFromUTC"] = zone }
            let record = try TestInstance(study: "1.\(n)", series: "1.\(n).1", sop: "1.\(n).1.1", values).record(cache: cache)
            let stored = record.instanceValues
            return (0..<stored.count).map { stored[$0] }.filter { if case .text(let t) = $0 { return t.hasPrefix("202") && t.contains(".") } else { return false } }
        }
        #expect(try norm("+0200", 1) == [.text("20240101100000.000000")])
        #expect(try norm("-0100", 2) == [.text("20240101130000.000000")])
        #expect(try norm(nil, 3) == [.text("20240101120000.000000")])
        #expect(try norm("+0200", 4) == [.text("20240101100000.000000")])
    }
}

/// A new index is loaded privately (ArchiveIndex.startBuilding) and appears complete.
@Suite struct IndexBuildTests {
    let directory = NSTemporaryDirectory() + "dwc-build-\(UUID().uuidString)"
    var path: String { directory + "/index.sqlite" }

    init() throws { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }

    func names(_ sql: String, _ index: ArchiveIndex) throws -> [String] {
        let statement = try index.database.prepare(sql)
        var names: [String] = []
        while try statement.step() { names.append(statement.text(0) ?? "") }
        return names
    }

    /// Until published there is no index to open (readers say so), only a hidden file; once
    /// published it is a WAL index with the instances table's indexes, the duplicate refused and
    /// remembered, the counts right; a second build finds it and declines.
    @Test func aNewIndexAppearsCompleteWithItsIndexes() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let builder = try #require(try ArchiveIndex.startBuilding(at: path))
        let junk = InstanceRecord.FileStamp(size: 1, mtimeNanoseconds: 1, inode: 1)
        let outcomes = try builder.record([
            .instance(try TestInstance(study: "7.1", series: "7.1.1", sop: "7.1.1.1").record()),
            .instance(try TestInstance(study: "7.9", series: "7.9.1", sop: "7.1.1.1", path: "files/copy.dcm").record()),
            .other(path: "files/junk", stamp: junk, status: .notDicom, message: "not DICOM"),
        ], isLive: { _ in true })
        #expect(outcomes == [.added, .duplicate(of: "files/7.1.1.1.dcm"), .other])
        _ = try builder.record([.instance(try TestInstance(study: "7.1", series: "7.1.2", sop: "7.1.2.1").record())], isLive: { _ in true })
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(FileManager.default.fileExists(atPath: directory + "/.index.sqlite.building-\(getpid())"))
        #expect(throws: IndexError.self) { try ArchiveIndex(path: path, create: false) }
        try builder.publish()

        let contents = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(!contents.contains { $0.contains(".building-") }, "\(contents)")
        let index = try ArchiveIndex(path: path, create: false)
        #expect(try names("PRAGMA journal_mode", index) == ["wal"])
        #expect(try names("SELECT name FROM sqlite_master WHERE tbl_name = 'instances' AND type = 'index' ORDER BY name", index)
            == ["instances_order", "instances_path", "instances_uid"])
        #expect(try names("SELECT status FROM files ORDER BY path", index) == ["duplicate", "not-dicom"])
        #expect(try names("SELECT study_uid FROM studies", index) == ["7.1"], "the duplicate's study was not made")
        var results: [SearchResult] = []
        try index.search(try SearchQuery(level: .study).plan()) { results.append($0) }
        #expect(results.count == 1)
        #expect(results.first?.value(QueryAttributes.numberOfStudyRelatedInstances) == .integer(2))
        #expect(results.first?.value(QueryAttributes.numberOfStudyRelatedSeries) == .integer(2))
        #expect(try names("PRAGMA integrity_check", index) == ["ok"])
        #expect(try ArchiveIndex.startBuilding(at: path) == nil)
    }

    /// A path recorded twice, or a UID whose first file is gone, is recorded during a build as an
    /// existing index records it.
    @Test func filesSeenTwiceTakeTheGeneralPath() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let builder = try #require(try ArchiveIndex.startBuilding(at: path))
        _ = try builder.record([
            .instance(try TestInstance(study: "7.1", series: "7.1.1", sop: "7.1.1.1").record()),
            .instance(try TestInstance(study: "7.1", series: "7.1.1", sop: "7.1.1.2").record()),
        ], isLive: { _ in true })
        let outcomes = try builder.record([
            // The file of 7.1.1.1 changed: another instance now.
            .instance(try TestInstance(study: "7.1", series: "7.1.1", sop: "7.1.1.3", path: "files/7.1.1.1.dcm").record()),
            // 7.1.1.2 moved.
            .instance(try TestInstance(study: "7.1", series: "7.1.1", sop: "7.1.1.2", path: "files/moved.dcm").record()),
        ], isLive: { $0 != "files/7.1.1.2.dcm" })
        #expect(outcomes == [.updated, .updated])
        try builder.publish()
        let index = try ArchiveIndex(path: path, create: false)
        #expect(try names("SELECT sop_uid || ' ' || path FROM instances ORDER BY sop_uid", index)
            == ["7.1.1.2 files/moved.dcm", "7.1.1.3 files/7.1.1.1.dcm"])
        #expect(try names("SELECT num_instances FROM series", index) == ["2"])
    }

    /// The build file of a process that died is removed by the next build; a build that ends
    /// without publishing (an error) removes its own.
    @Test func abandonedBuildsLeaveNothing() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let stale = directory + "/.index.sqlite.building-\(gone.processIdentifier)"
        #expect(FileManager.default.createFile(atPath: stale, contents: Data("partial".utf8)))
        do {
            let builder = try #require(try ArchiveIndex.startBuilding(at: path))
            #expect(!FileManager.default.fileExists(atPath: stale))
            _ = try builder.record([.instance(try TestInstance(study: "7.1", series: "7.1.1", sop: "7.1.1.1").record())],
                                   isLive: { _ in true })
        }
        let contents = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(contents == [".index.sqlite.lock"])
    }
}
