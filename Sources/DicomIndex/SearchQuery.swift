import DicomCore
import Synchronization

/// A QIDO-RS style search over the index (PS3.4 C.2.2.2, PS3.18 §8.3.4, §10.6): the level, the
/// matching and return keys, scoping UIDs, paging. `plan()` checks it and turns it into one
/// parameterised SQL statement; docs/search.md describes the rules.
public struct SearchQuery: Sendable {
    public var level: QueryLevel
    /// `-k KEY[=VALUE]`, in the order given. Several keys for one attribute must all match.
    public var keys: [QueryKey] = []
    /// `--field KEY`: more attributes to return.
    public var fields: [Tag] = []
    /// `--field all`: every attribute the index has at this level and above.
    public var allFields = false
    /// Scope of a series or instance search (`--study`), or a study UID to match.
    public var studyUID: String?
    /// Scope of an instance search (`--series`).
    public var seriesUID: String?
    public var limit: Int?
    public var offset = 0
    /// Person names also match at the start of any name component.
    public var fuzzy = false

    public init(level: QueryLevel) { self.level = level }

    /// Checks keys and values and builds the statements. Throws IndexError(.query) for an
    /// unknown or unsupported key, a bad value or bad paging, naming the supported keys.
    public func plan() throws -> SearchPlan { try SearchPlanner(self).build() }
}

/// One attribute of the results.
public struct SearchColumn: Sendable {
    public let tag: Tag
    public let keyword: String
    public let vr: VR
    let key: SearchKey
    /// Column of the statement that holds the value; nil for constants and RetrieveURL.
    let sqlIndex: Int32?
    var isInteger: Bool { key.isInteger }
}

/// A search turned into SQL: one statement for the results, one for the files they hold.
public struct SearchPlan: Sendable {
    public let query: SearchQuery
    /// The returned attributes, in ascending tag order.
    public var columns: [SearchColumn] { template.columns }
    public var sql: String { template.sql }
    public let bindings: [SQLValue]
    /// What does not depend on the query's values, shared by the plans of one shape.
    let template: SearchPlanTemplate
    /// The values of the WHERE clause's parameters (`bindings` without the paging).
    let filterBindings: [SQLValue]
    /// The stored path's column in `sql` (instance level).
    var pathIndex: Int32? { template.pathIndex }

    /// `SELECT i.path …`: every file of the matched entities, in instance order. Built when asked
    /// for (`--format paths`), not with every plan.
    public var pathsSQL: String { paths.sql }
    public var pathsBindings: [SQLValue] { paths.bindings }

    private var paths: (sql: String, bindings: [SQLValue]) {
        let level = query.level, from = SearchPlanner.from, startAtStudies = template.startAtStudies
        let whereClause = template.filter?.sql
        var sql = "SELECT i.path FROM \(from(.instance, startAtStudies))"
        var bindings: [SQLValue] = []
        let paging: [SQLValue] = [.integer(Int64(query.limit ?? -1)), .integer(Int64(query.offset))]
        if level != .instance, query.limit != nil || query.offset > 0 {
            let pk = level == .study ? "st.study_pk" : "se.series_pk"
            sql += " WHERE \(pk) IN (SELECT \(pk) FROM \(from(level, startAtStudies))"
            if let whereClause {
                sql += " WHERE \(whereClause)"
                bindings += filterBindings
            }
            sql += " ORDER BY \(SearchPlanner.order(level)) LIMIT ? OFFSET ?)"
            bindings += paging
            sql += " ORDER BY \(SearchPlanner.order(.instance))"
        } else {
            if let whereClause {
                sql += " WHERE \(whereClause)"
                bindings += filterBindings
            }
            sql += " ORDER BY \(SearchPlanner.order(.instance))"
            if level == .instance {
                sql += " LIMIT ? OFFSET ?"
                bindings += paging
            }
        }
        return (sql, bindings)
    }
}

/// The part of a plan that its values do not change: the columns and the statement text. One
/// per shape of search (SearchPlanner.templates), so that a search of a shape seen before makes
/// only its bindings, and the statement it finds in the connection's cache is the same text.
final class SearchPlanTemplate: Sendable {
    let columns: [SearchColumn]
    let sql: String
    let pathIndex: Int32?
    /// The WHERE clause and the join order, for `SearchPlan.pathsSQL`.
    let filter: SQLShape?
    let startAtStudies: Bool
    /// What it was made from, and its hash (SearchPlanner.templates).
    let shape: Shape, shapeHash: Int

    init(shape: Shape, columns: [SearchColumn], sql: String, pathIndex: Int32?) {
        self.shape = shape
        shapeHash = shape.hashValue
        self.columns = columns
        self.sql = sql
        self.pathIndex = pathIndex
        filter = shape.filter
        startAtStudies = shape.startAtStudies
    }

    /// The JSON writer's bytes for these columns (SearchResultJSON), one per layout asked for:
    /// a few at most (compact or pretty, alone or in an array), so a list.
    private let jsonLayouts = Mutex<[SearchResultJSON.Layout]>([])

    func jsonLayout(pretty: Bool, depth: Int) -> SearchResultJSON.Layout {
        func find(_ layouts: [SearchResultJSON.Layout]) -> SearchResultJSON.Layout? {
            layouts.first { $0.pretty == pretty && $0.depth == depth }
        }
        if let known = jsonLayouts.withLock({ find($0) }) { return known }
        let layout = SearchResultJSON.Layout(columns: columns, pretty: pretty, depth: depth)
        jsonLayouts.withLock { layouts in if find(layouts) == nil { layouts.append(layout) } }
        return layout
    }

    /// Everything the template is made from.
    struct Shape: Hashable {
        let level: QueryLevel
        let allFields: Bool
        /// The tags of --field, of -k and of the scoping UIDs, in the order the planner adds them.
        let returnedTags: [Tag]
        let filter: SQLShape?
        let startAtStudies: Bool
    }
}

// MARK: - Building

/// One WHERE term and what it says about the tables it touches (to choose the join order).
struct Condition {
    var fragment: SQLFragment
    /// The level whose table it restricts.
    var level: QueryLevel
    /// Exact values (or a range) on a column with an index of its own (IndexSchema): the
    /// statement can start there. Below the study level this decides the join order.
    var isIndexed = false
    /// Exact values of a unique UID column: at most a few rows.
    var isUnique = false
}

struct SearchPlanner {
    let query: SearchQuery
    var level: QueryLevel { query.level }

    init(_ query: SearchQuery) { self.query = query }

    /// The templates made so far. A list, not a dictionary keyed by shape: a program searches
    /// with a few shapes, and such a dictionary had the first search of every process look up
    /// the shape's Hashable conformance at run time (a third of a million instructions). One
    /// that searches with many shapes (IN lists of every length…) starts again past
    /// `templateLimit`.
    private static let templates = Mutex<[SearchPlanTemplate]>([])
    static let templateLimit = 256

    func build() throws -> SearchPlan {
        if let limit = query.limit, limit < 0 { throw IndexError(.query, path: "--limit", "must be 0 or more") }
        if query.offset < 0 { throw IndexError(.query, path: "--offset", "must be 0 or more") }
        if query.seriesUID != nil, level == .study {
            throw IndexError(.query, path: "--series", "scopes series or instance searches, not studies")
        }

        // Every key is checked and every value turned into its condition (the bindings) on each
        // search; what to return and the statement text come from the template of the shape.
        var returnedKeys: [SearchKey] = []
        returnedKeys.reserveCapacity(query.fields.count + query.keys.count + 2)
        for tag in query.fields {
            returnedKeys.append(try supportedKey(tag, argument: "--field \(Self.name(of: tag))"))
        }

        // What to match.
        var conditions: [Condition] = []
        var modalityAlternatives: [[String]] = []
        for queryKey in query.keys {
            let key = try supportedKey(queryKey.tag, argument: "-k \(queryKey.text)")
            returnedKeys.append(key)
            guard let value = queryKey.value, !Matching.isUniversal(value) else { continue }
            guard key.isMatchable else {
                throw IndexError(.query, path: "-k \(queryKey.text)",
                                 "\(key.keyword) is returned only, it cannot be matched (give it without a value); "
                                     + "matching keys at \(level.rawValue) level: \(SearchKeys.matchableKeywords(at: level))")
            }
            if case .modalitiesInStudy = key.source {
                modalityAlternatives.append(Matching.alternatives(value))
                continue
            }
            do {
                if let condition = try Matching.condition(for: key, value: value, fuzzy: query.fuzzy) {
                    conditions.append(condition)
                }
            } catch let error as MatchError {
                throw IndexError(.query, path: "-k \(queryKey.text)", error.message)
            }
        }
        if let uid = query.studyUID {
            conditions.append(try scope(.studyInstanceUID, uid, option: "--study"))
            if let key = SearchKeys.key(for: .studyInstanceUID, at: level) { returnedKeys.append(key) }
        }
        if let uid = query.seriesUID {
            conditions.append(try scope(.seriesInstanceUID, uid, option: "--series"))
            if let key = SearchKeys.key(for: .seriesInstanceUID, at: level) { returnedKeys.append(key) }
        }
        // ModalitiesInStudy through the series table: an IN list when nothing else narrows the
        // studies (the series_modality index finds them), else EXISTS per candidate study.
        let narrowed = conditions.contains { $0.level == .study || $0.isIndexed }
        for alternatives in modalityAlternatives {
            if let fragment = Matching.modalitiesInStudy(alternatives, asList: !narrowed) {
                conditions.append(Condition(fragment: fragment, level: .study))
            }
        }

        // Start below the studies for a UID lookup there, or for another indexed lower-level key
        // (Modality) when no indexed study key (PatientID, StudyDate, …) narrows the studies.
        let startBelow = conditions.contains { $0.isUnique && $0.level != .study }
            || (conditions.contains { $0.isIndexed && $0.level != .study } && !conditions.contains { $0.isIndexed && $0.level == .study })
        let filter = SQLFragment.all(conditions.map(\.fragment))
        let shape = SearchPlanTemplate.Shape(level: level, allFields: query.allFields, returnedTags: returnedKeys.map(\.tag),
                                             filter: filter?.shape, startAtStudies: !startBelow)
        let hash = shape.hashValue
        let template = Self.templates.withLock { $0.first { $0.shapeHash == hash && $0.shape == shape } }
            ?? makeTemplate(shape, returnedKeys: returnedKeys)

        let filterBindings = filter?.bindings ?? []
        var bindings = filterBindings
        bindings.append(.integer(Int64(query.limit ?? -1)))
        bindings.append(.integer(Int64(query.offset)))
        return SearchPlan(query: query, bindings: bindings, template: template, filterBindings: filterBindings)
    }

    /// The columns and statement text of a shape, kept for the next search of that shape.
    private func makeTemplate(_ shape: SearchPlanTemplate.Shape, returnedKeys: [SearchKey]) -> SearchPlanTemplate {
        // What to return: the level's defaults, --field, and every key named with -k.
        // An array with a linear check, not a dictionary: a few dozen keys at most.
        var returned: [SearchKey] = []
        returned.reserveCapacity(32)
        func add(_ key: SearchKey) {
            if let i = returned.firstIndex(where: { $0.tag == key.tag }) { returned[i] = key } else { returned.append(key) }
        }
        for key in SearchKeys.supported(at: level) where query.allFields || key.isDefault(at: level) {
            add(key)
        }
        for key in returnedKeys { add(key) }

        // Columns in tag order; the statement selects the stored ones.
        var columns: [SearchColumn] = []
        var selected: [String] = []
        for key in returned.sorted(by: { $0.tag < $1.tag }) {
            let expression = key.expression
            if let expression { selected.append(expression) }
            columns.append(SearchColumn(tag: key.tag, keyword: key.keyword, vr: key.vr, key: key,
                                        sqlIndex: expression == nil ? nil : Int32(selected.count - 1)))
        }
        var pathIndex: Int32?
        if level == .instance {
            selected.append("i.path")
            pathIndex = Int32(selected.count - 1)
        }

        var sql = "SELECT " + selected.joined(separator: ", ") + " FROM " + Self.from(level, startAtStudies: shape.startAtStudies)
        if let filter = shape.filter {
            sql += " WHERE "
            filter.write(to: &sql)
        }
        sql += " ORDER BY " + Self.order(level) + " LIMIT ? OFFSET ?"

        let template = SearchPlanTemplate(shape: shape, columns: columns, sql: sql, pathIndex: pathIndex)
        Self.templates.withLock { templates in
            if templates.count >= Self.templateLimit { templates.removeAll() }
            templates.append(template)
        }
        return template
    }

    /// The key for `tag` at the query's level, or an error that lists the level's keys.
    func supportedKey(_ tag: Tag, argument: @autoclosure () -> String) throws -> SearchKey {
        if let key = SearchKeys.key(for: tag, at: level) { return key }
        let keys = SearchKeys.summary(at: level)
        if let lower = SearchKeys.all.first(where: { $0.tag == tag }) {
            throw IndexError(.query, path: argument(),
                             "\(lower.keyword) \(tag) is a \(lower.level.rawValue)-level key, not usable in a \(level.rawValue) search; \(keys)")
        }
        throw IndexError(.query, path: argument(), "\(Self.name(of: tag)) \(tag) is not supported by the index; \(keys)")
    }

    func scope(_ tag: Tag, _ uid: String, option: String) throws -> Condition {
        guard let key = SearchKeys.key(for: tag, at: level), !uid.isEmpty else {
            throw IndexError(.query, path: option, "needs a UID")
        }
        do {
            guard let condition = try Matching.condition(for: key, value: uid, fuzzy: false) else {
                throw IndexError(.query, path: option, "needs a UID")
            }
            return condition
        } catch let error as MatchError {
            throw IndexError(.query, path: "\(option) \(uid)", error.message)
        }
    }

    static func name(of tag: Tag) -> String {
        let keyword = DataDictionary.keyword(for: tag)
        return keyword.isEmpty ? tag.description : keyword
    }

    /// The SQL expression of a key's stored value; nil for constants and RetrieveURL.
    static func expression(for source: KeySource) -> String? {
        switch source {
        case .column(let a): return "\(a.level.alias).\(a.column)"
        case .modalitiesInStudy: return "st.modalities"
        case .sopClassesInStudy: return "st.sop_classes"
        case .numberOfStudyRelatedSeries: return "st.num_series"
        case .numberOfStudyRelatedInstances: return "st.num_instances"
        case .numberOfSeriesRelatedInstances: return "se.num_instances"
        case .availableTransferSyntax: return "i.transfer_syntax"
        case .retrieveURL, .instanceAvailability, .specificCharacterSet: return nil
        }
    }

    /// The tables of a level joined to those above. Starting at the studies (CROSS JOIN fixes
    /// the loop order) walks them in result order through the studies_order, series_order and
    /// instances_order indexes, so nothing needs sorting; an indexed key of a lower level (SeriesInstanceUID, Modality,
    /// SOPInstanceUID) lets SQLite start there instead.
    static func from(_ level: QueryLevel, startAtStudies: Bool) -> String {
        let join = startAtStudies ? "CROSS JOIN" : "JOIN"
        switch level {
        case .study: return "studies st"
        case .series: return "studies st \(join) series se ON se.study_pk = st.study_pk"
        case .instance:
            return "studies st \(join) series se ON se.study_pk = st.study_pk \(join) instances i ON i.series_pk = se.series_pk"
        }
    }

    /// Studies by StudyDate, StudyTime, StudyInstanceUID; series then by SeriesNumber,
    /// SeriesInstanceUID; instances then by InstanceNumber, SOPInstanceUID. Missing values last.
    /// Written as `x IS NULL, x` (not NULLS LAST) to be the key order of the *_order indexes
    /// (IndexSchema); the study and series rowids, which change nothing (the UIDs are unique),
    /// tell SQLite that each outer row is distinct, so a walk of those indexes comes out sorted
    /// and nothing is sorted.
    static func order(_ level: QueryLevel) -> String {
        switch level {
        case .study: return studyOrder
        case .series: return seriesOrder
        case .instance: return instanceOrder
        }
    }

    private static let studyOrder = makeOrder(.study), seriesOrder = makeOrder(.series), instanceOrder = makeOrder(.instance)

    private static func makeOrder(_ level: QueryLevel) -> String {
        var terms = ["st.study_date IS NULL", "st.study_date", "st.study_time IS NULL", "st.study_time", "st.study_uid", "st.study_pk"]
        if level.depth >= 1 {
            terms += ["se.series_number IS NULL", "se.series_number", "se.series_uid", "se.series_pk"]
        }
        if level.depth >= 2 { terms += ["i.instance_number IS NULL", "i.instance_number", "i.sop_uid"] }
        return terms.joined(separator: ", ")
    }
}
