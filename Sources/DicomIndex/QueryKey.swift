import DicomCore

/// One `-k KEY[=VALUE]` of a search: the attribute and, when given, the value to match.
/// A bare KEY (no `=`) only asks for the attribute to be returned; `KEY=` (empty value) is
/// universal matching, which returns it too.
public struct QueryKey: Sendable, Hashable {
    public let tag: Tag
    /// nil: return only. "" or "*": universal matching.
    public let value: String?
    /// The argument as typed, for messages.
    public let text: String

    public init(tag: Tag, value: String?) {
        self.tag = tag
        self.value = value
        let keyword = SearchKeys.key(for: tag, at: .instance)?.keyword ?? DataDictionary.keyword(for: tag)
        text = (keyword.isEmpty ? tag.description : keyword) + (value.map { "=" + $0 } ?? "")
    }

    /// Parses `KEY[=VALUE]`, KEY as a keyword, `(gggg,eeee)`, `gggg,eeee` or `ggggeeee`. The value
    /// is everything after the first `=` (person names may hold more `=`).
    /// A key that is no attribute at all is reported with the keys of `level` when given.
    public init(parsing argument: String, level: QueryLevel? = nil) throws {
        let key: Substring, value: String?
        if let equals = argument.firstIndex(of: "=") {
            key = argument[..<equals]
            value = String(argument[argument.index(after: equals)...])
        } else {
            key = Substring(argument)
            value = nil
        }
        guard !key.isEmpty else { throw IndexError(.query, path: "-k \(argument)", "no attribute named before '='") }
        // The index's own keywords first: Tag(parsing:) would load the whole data dictionary.
        guard let tag = SearchKeys.tag(keyword: String(key)) ?? Tag(parsing: String(key)) else {
            throw IndexError(.query, path: "-k \(argument)",
                             "'\(key)' is not a DICOM keyword or tag" + (level.map { "; " + SearchKeys.summary(at: $0) } ?? ""))
        }
        self.tag = tag
        self.value = value
        text = argument
    }
}

/// Where the value of a search key comes from.
enum KeySource: Sendable {
    /// A typed column of the level's table.
    case column(QueryAttribute)
    /// studies.modalities, matched through the series table.
    case modalitiesInStudy
    /// studies.sop_classes.
    case sopClassesInStudy
    case numberOfStudyRelatedSeries, numberOfStudyRelatedInstances, numberOfSeriesRelatedInstances
    /// instances.transfer_syntax.
    case availableTransferSyntax
    /// Made by the caller from the row (SearchRow): the DICOMweb URL of a study, series or
    /// instance under a base URL, or the file:// URI of an instance's file.
    case retrieveURL
    /// "ONLINE": the files are on disk.
    case instanceAvailability
    /// "ISO_IR 192": the index keeps text as UTF-8.
    case specificCharacterSet
}

/// An attribute a search can match or return at some level: a query attribute of the index or
/// one computed from its aggregates.
/// A class: searches copy keys around (tens per plan), and a reference is one word.
public final class SearchKey: Sendable {
    public let tag: Tag
    public let keyword: String
    public let vr: VR
    /// The level that owns it; it can be used at this level and below.
    public let level: QueryLevel
    /// False for attributes that are only returned (counts, RetrieveURL, …).
    public let isMatchable: Bool
    /// Whether the stored value may hold several values (joined by backslash).
    public let isMultiValued: Bool
    let source: KeySource

    /// Keyword, VR and multiplicity are written out (QueryAttributeTests checks them against the
    /// dictionary) so that a search never loads the data dictionary: that costs milliseconds.
    /// The SQL expression of its stored value (`st.patient_name`); nil for constants and
    /// RetrieveURL. Made once here, not by every search.
    let expression: String?
    /// A person name's columns of lowercased Alphabetic, Ideographic and Phonetic groups and of
    /// its components for fuzzy matching (IndexSchema.searchColumns); nil for other keys.
    let nameColumns: (groups: [String], fuzzy: String)?

    init(_ source: KeySource) {
        self.source = source
        let expression = SearchPlanner.expression(for: source)
        self.expression = expression
        if case .column(let a) = source, a.match == .personName, let expression {
            nameColumns = (["_a", "_i", "_p"].map { expression + $0 }, expression + "_fuzzy")
        } else {
            nameColumns = nil
        }
        let tag: UInt32, keyword: String, vr: VR, multiValued: Bool
        switch source {
        case .column(let a):
            self.tag = a.tag; self.keyword = a.keyword; self.vr = a.vr
            level = a.level
            isMatchable = a.match != .none
            isMultiValued = a.isMultiValued
            return
        case .modalitiesInStudy:
            (tag, keyword, vr, multiValued, level, isMatchable) = (0x0008_0061, "ModalitiesInStudy", .CS, true, .study, true)
        case .sopClassesInStudy:
            (tag, keyword, vr, multiValued, level, isMatchable) = (0x0008_0062, "SOPClassesInStudy", .UI, true, .study, true)
        case .numberOfStudyRelatedSeries:
            (tag, keyword, vr, multiValued, level, isMatchable) = (0x0020_1206, "NumberOfStudyRelatedSeries", .IS, false, .study, false)
        case .numberOfStudyRelatedInstances:
            (tag, keyword, vr, multiValued, level, isMatchable) = (0x0020_1208, "NumberOfStudyRelatedInstances", .IS, false, .study, false)
        case .numberOfSeriesRelatedInstances:
            (tag, keyword, vr, multiValued, level, isMatchable) = (0x0020_1209, "NumberOfSeriesRelatedInstances", .IS, false, .series, false)
        case .availableTransferSyntax:
            (tag, keyword, vr, multiValued, level, isMatchable) = (0x0008_3002, "AvailableTransferSyntaxUID", .UI, true, .instance, true)
        case .retrieveURL:
            // Every level has one (PS3.18 §10.6.3); studies and series only under a base URL.
            (tag, keyword, vr, multiValued, level, isMatchable) = (0x0008_1190, "RetrieveURL", .UR, false, .study, false)
        case .instanceAvailability:
            (tag, keyword, vr, multiValued, level, isMatchable) = (0x0008_0056, "InstanceAvailability", .CS, false, .study, false)
        case .specificCharacterSet:
            (tag, keyword, vr, multiValued, level, isMatchable) = (0x0008_0005, "SpecificCharacterSet", .CS, true, .study, false)
        }
        self.tag = Tag(rawValue: tag)
        self.keyword = keyword
        self.vr = vr
        isMultiValued = multiValued
    }

    /// Integer valued (IS, US): matched exactly, returned as numbers.
    var isInteger: Bool {
        switch source {
        case .column(let a): return a.match == .integer
        case .numberOfStudyRelatedSeries, .numberOfStudyRelatedInstances, .numberOfSeriesRelatedInstances: return true
        default: return false
        }
    }

    /// Returned at `level` without being asked for (PS3.18 Tables 10.6.3-3/-4/-5, plus the UIDs
    /// of the levels above, which QIDO-RS returns too).
    func isDefault(at level: QueryLevel) -> Bool {
        switch source {
        case .column(let a):
            if a.level == level { return a.required }
            // The UIDs that place a series or an instance in the hierarchy.
            return a.tag == .studyInstanceUID || (a.tag == .seriesInstanceUID && level == .instance)
        case .modalitiesInStudy, .numberOfStudyRelatedSeries, .numberOfStudyRelatedInstances: return level == .study
        case .numberOfSeriesRelatedInstances: return level == .series
        case .availableTransferSyntax, .retrieveURL: return level == .instance
        case .specificCharacterSet: return true
        case .sopClassesInStudy, .instanceAvailability: return false
        }
    }
}

extension QueryLevel {
    /// 0 study, 1 series, 2 instance.
    var depth: Int {
        switch self {
        case .study: return 0
        case .series: return 1
        case .instance: return 2
        }
    }

    /// The alias of the level's table in search statements.
    var alias: String {
        switch self {
        case .study: return "st"
        case .series: return "se"
        case .instance: return "i"
        }
    }
}

/// The keys a search accepts per level: the level's query attributes and those of the levels
/// above, and the computed attributes.
public enum SearchKeys {
    static let all: [SearchKey] = QueryAttributes.all.map { SearchKey(.column($0)) } + [
        SearchKey(.modalitiesInStudy), SearchKey(.sopClassesInStudy),
        SearchKey(.numberOfStudyRelatedSeries), SearchKey(.numberOfStudyRelatedInstances),
        SearchKey(.numberOfSeriesRelatedInstances), SearchKey(.availableTransferSyntax),
        SearchKey(.retrieveURL), SearchKey(.instanceAvailability), SearchKey(.specificCharacterSet),
    ]

    private static let byTag: [Tag: SearchKey] = Dictionary(uniqueKeysWithValues: all.map { ($0.tag, $0) })
    private static let byKeyword: [String: Tag] = Dictionary(uniqueKeysWithValues: all.map { ($0.keyword, $0.tag) })

    /// The tag of a search key's keyword, without the data dictionary.
    static func tag(keyword: String) -> Tag? { byKeyword[keyword] }

    /// Every key usable at `level`, in tag order.
    public static func supported(at level: QueryLevel) -> [SearchKey] {
        switch level {
        case .study: return supportedAtStudy
        case .series: return supportedAtSeries
        case .instance: return supportedAtInstance
        }
    }

    private static func makeSupported(_ level: QueryLevel) -> [SearchKey] {
        all.filter { $0.level.depth <= level.depth }.sorted { $0.tag < $1.tag }
    }

    private static let supportedAtStudy = makeSupported(.study)
    private static let supportedAtSeries = makeSupported(.series)
    private static let supportedAtInstance = makeSupported(.instance)

    /// The key for `tag` if it is usable at `level`.
    public static func key(for tag: Tag, at level: QueryLevel) -> SearchKey? {
        guard let key = byTag[tag], key.level.depth <= level.depth else { return nil }
        return key
    }

    /// "AccessionNumber, ModalitiesInStudy, …": the matching keys of a level, for messages.
    public static func matchableKeywords(at level: QueryLevel) -> String {
        supported(at: level).filter(\.isMatchable).map(\.keyword).sorted().joined(separator: ", ")
    }

    /// The return-only keys of a level, for messages.
    public static func returnOnlyKeywords(at level: QueryLevel) -> String {
        supported(at: level).filter { !$0.isMatchable }.map(\.keyword).sorted().joined(separator: ", ")
    }

    /// "matching keys at study level: …; returned only: …".
    public static func summary(at level: QueryLevel) -> String {
        "matching keys at \(level.rawValue) level: \(matchableKeywords(at: level)); returned only: \(returnOnlyKeywords(at: level))"
    }
}
