import Glibc

/// The index's tables, generated from `QueryAttributes` (docs/index-schema.md describes them).
enum IndexSchema {
    /// Bump when the layout of the fixed columns changes; the attribute list has its own signature.
    static let version = "5"

    static func sqlType(_ match: MatchKind) -> String { match == .integer ? "INTEGER" : "TEXT" }

    /// Extra columns a matching kind needs beside the value itself.
    static func searchColumns(for a: QueryAttribute) -> [(name: String, type: String)] {
        switch a.match {
        case .personName:
            // Lowercased Alphabetic, Ideographic and Phonetic groups, and " comp comp … " for fuzzy.
            return [(a.column + "_a", "TEXT"), (a.column + "_i", "TEXT"), (a.column + "_p", "TEXT"), (a.column + "_fuzzy", "TEXT")]
        case .time: return [(a.column + "_sec", "REAL")]
        case .dateTime: return [(a.column + "_norm", "TEXT")]
        default: return []
        }
    }

    /// How many search columns an attribute with this matching kind has.
    static func searchColumnCount(_ match: MatchKind) -> Int {
        switch match {
        case .personName: return 4
        case .time, .dateTime: return 1
        default: return 0
        }
    }

    /// Values of the search columns of one attribute, in `searchColumns(for:)` order, from
    /// `cache` when the same text was normalised before. `timezoneOffset` is the data set's
    /// TimezoneOffsetFromUTC: date-times without an offset of their own are in that zone.
    static func searchValues(for match: MatchKind, text: String, cache: SearchValueCache?, timezoneOffset: String? = nil) -> [SQLValue] {
        // A date-time in a data set with a TimezoneOffsetFromUTC (rare) is converted afresh: the
        // cache is keyed by text alone, which then does not say what it becomes.
        let cache = timezoneOffset == nil ? cache : nil
        let key = SearchValueCache.Key(match: match, text: text)
        if let known = cache?.entries[key] { return known }
        let derived = searchValues(for: match, text: text, timezoneOffset: timezoneOffset)
        cache?.insert(key, derived)
        return derived
    }

    private static func searchValues(for match: MatchKind, text: String, timezoneOffset: String?) -> [SQLValue] {
        switch match {
        case .personName:
            return ValueNormalizer.nameGroups(text).map { .text($0) } + [.text(ValueNormalizer.fuzzyComponents(text))]
        case .time:
            return [ValueNormalizer.seconds(text).map { .real($0) } ?? .null]
        case .dateTime:
            return [SQLValue(ValueNormalizer.dateTime(text, defaultOffset: timezoneOffset))]
        default:
            return []
        }
    }

    static func columns(for level: QueryLevel) -> [(name: String, type: String)] {
        switch level {
        case .study: return studyColumns
        case .series: return seriesColumns
        case .instance: return instanceColumns
        }
    }

    private static func makeColumns(_ level: QueryLevel) -> [(name: String, type: String)] {
        QueryAttributes.attributes(at: level).flatMap { [($0.column, sqlType($0.match))] + searchColumns(for: $0) }
    }

    private static let studyColumns = makeColumns(.study)
    private static let seriesColumns = makeColumns(.series)
    private static let instanceColumns = makeColumns(.instance)

    static var createStatements: [String] {
        func list(_ level: QueryLevel) -> String { columns(for: level).map { "  \($0.name) \($0.type),\n" }.joined() }
        return [
            "CREATE TABLE IF NOT EXISTS dwc_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """
            CREATE TABLE IF NOT EXISTS studies(
              study_pk INTEGER PRIMARY KEY,
            \(list(.study))  num_series INTEGER NOT NULL DEFAULT 0,
              num_instances INTEGER NOT NULL DEFAULT 0,
              modalities TEXT,
              sop_classes TEXT)
            """,
            "CREATE UNIQUE INDEX IF NOT EXISTS studies_uid ON studies(study_uid)",
            "CREATE INDEX IF NOT EXISTS studies_date ON studies(study_date, study_time)",
            // The result order (SearchPlanner.order): a walk of the *_order indexes yields
            // studies, their series and their instances sorted, so searches sort nothing.
            // The rowid is written out so that the person name groups can follow it: a name
            // condition is then checked on the index entry, and only matching studies are read
            // from the table (a PatientName wildcard with a date range: 11% fewer instructions).
            "CREATE INDEX IF NOT EXISTS studies_order ON studies(study_date IS NULL, study_date, study_time IS NULL, study_time, "
                + "study_uid, study_pk, patient_name_a, patient_name_i, patient_name_p)",
            "CREATE INDEX IF NOT EXISTS studies_patient_id ON studies(patient_id)",
            "CREATE INDEX IF NOT EXISTS studies_accession ON studies(accession_number)",
            "CREATE INDEX IF NOT EXISTS studies_patient_name ON studies(patient_name_a)",
            // Names match on any of their three groups: each group needs its index.
            "CREATE INDEX IF NOT EXISTS studies_patient_name_i ON studies(patient_name_i)",
            "CREATE INDEX IF NOT EXISTS studies_patient_name_p ON studies(patient_name_p)",
            """
            CREATE TABLE IF NOT EXISTS series(
              series_pk INTEGER PRIMARY KEY,
              study_pk INTEGER NOT NULL REFERENCES studies(study_pk),
            \(list(.series))  num_instances INTEGER NOT NULL DEFAULT 0)
            """,
            "CREATE UNIQUE INDEX IF NOT EXISTS series_uid ON series(series_uid)",
            "CREATE INDEX IF NOT EXISTS series_study ON series(study_pk, modality)",
            "CREATE INDEX IF NOT EXISTS series_order ON series(study_pk, series_number IS NULL, series_number, series_uid)",
            "CREATE INDEX IF NOT EXISTS series_modality ON series(modality)",
            """
            CREATE TABLE IF NOT EXISTS instances(
              instance_pk INTEGER PRIMARY KEY,
              series_pk INTEGER NOT NULL REFERENCES series(series_pk),
            \(list(.instance))  path TEXT NOT NULL,
              size INTEGER NOT NULL,
              mtime_ns INTEGER NOT NULL,
              inode INTEGER NOT NULL,
              etag TEXT,
              transfer_syntax TEXT NOT NULL,
              pixel_offset INTEGER,
              pixel_length INTEGER,
              pixel_encapsulated INTEGER NOT NULL DEFAULT 0,
              frame_table BLOB)
            """,
            "CREATE UNIQUE INDEX IF NOT EXISTS instances_uid ON instances(sop_uid)",
            "CREATE UNIQUE INDEX IF NOT EXISTS instances_path ON instances(path)",
            "CREATE INDEX IF NOT EXISTS instances_order ON instances(series_pk, instance_number IS NULL, instance_number, sop_uid)",
            // Every file seen that is not an instance (not DICOM, failed, duplicate, DICOMDIR), so
            // unchanged files are skipped on the next run; instances are known by their rows.
            """
            CREATE TABLE IF NOT EXISTS files(
              path TEXT PRIMARY KEY,
              size INTEGER NOT NULL,
              mtime_ns INTEGER NOT NULL,
              inode INTEGER NOT NULL,
              etag TEXT,
              status TEXT NOT NULL,
              message TEXT) WITHOUT ROWID
            """,
        ]
    }
}

/// Search-column values already derived from a text (person name groups folded for matching,
/// times in seconds, date-times normalised to UTC). The files of one study repeat the same
/// names, dates and times, and folding a name costs tens of times more than a lookup. Keyed by
/// text: the date-times of data sets with a TimezoneOffsetFromUTC, whose UTC form depends on
/// it, do not use it. One per parsing thread: not shared, so without locks. Bounded: emptied
/// when full.
public final class SearchValueCache {
    struct Key: Hashable {
        let match: MatchKind
        let text: String
    }

    private(set) var entries: [Key: [SQLValue]] = [:]
    private let capacity: Int
    /// The last text of each attribute slot (InstanceRecord's numbering) and its values: the
    /// next file of a study mostly has the same, found by comparing bytes, without making a
    /// String of them or hashing it.
    private var recent: [(match: MatchKind, text: [UInt8], values: [SQLValue])?] = []

    public init(capacity: Int = 4096) { self.capacity = capacity }

    /// The values remembered for slot `slot` when its last text was `text`.
    func recentValues(slot: Int, match: MatchKind, text: UnsafeBufferPointer<UInt8>) -> [SQLValue]? {
        guard slot < recent.count, let entry = recent[slot], entry.match == match, entry.text.count == text.count else { return nil }
        let same = entry.text.withUnsafeBufferPointer { known in
            known.isEmpty || memcmp(known.baseAddress!, text.baseAddress!, known.count) == 0
        }
        return same ? entry.values : nil
    }

    func remember(slot: Int, match: MatchKind, text: UnsafeBufferPointer<UInt8>, values: [SQLValue]) {
        if slot >= recent.count { recent.append(contentsOf: repeatElement(nil, count: slot + 1 - recent.count)) }
        recent[slot] = (match, Array(text), values)
    }

    func insert(_ key: Key, _ value: [SQLValue]) {
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        entries[key] = value
    }
}
