import DicomCore
import DicomIndex
#if canImport(Glibc)
import Glibc
#endif

/// `dwc search studies|series|instances`: QIDO-RS matching over the archive's index, written as
/// a DICOM JSON array, NDJSON, a table, CSV or file paths, row by row as the index yields them.
public struct SearchOperation: Sendable {
    public enum Format: String, Sendable, CaseIterable { case json, ndjson, table, csv, paths }

    /// The level as the command line names it.
    public enum Level: String, Sendable, CaseIterable {
        case studies, series, instances
        public var queryLevel: QueryLevel {
            switch self {
            case .studies: return .study
            case .series: return .series
            case .instances: return .instance
            }
        }
    }

    public var location: ArchiveLocation
    public var query: SearchQuery
    public var format: Format = .json
    /// JSON: indented (the default) or one line.
    public var pretty = true
    /// Table: rows used to size the columns before the first is printed.
    public var tableSizingRows = 500
    /// `--base-url` (or DWC_BASE_URL), checked by `baseURL(option:)`: RetrieveURL is then the
    /// DICOMweb URL of each study, series or instance under it. Without it only instances have
    /// one, the file:// URI of their file.
    public var baseURL: String?

    public init(location: ArchiveLocation, query: SearchQuery) {
        self.location = location
        self.query = query
    }

    /// Checks the query (exit 1 for a bad key or value), opens the index (80 missing or not an
    /// index, 81 stale), runs the search and hands the output to `write` in pieces. Returns the
    /// number of results (files for `paths`). `debug` receives the SQL and SQLite's plan.
    @discardableResult
    public func run(write: ([UInt8]) -> Void, debug: ((String) -> Void)? = nil) throws -> Int {
        // A bad query is reported before the index is looked at.
        let prepared = try prepare()
        return try run(prepared, on: try openIndex(), write: write, debug: debug)
    }

    /// The same on an index already open (benchmarks time the query apart from the open).
    @discardableResult
    public func run(on index: ArchiveIndex, write: ([UInt8]) -> Void, debug: ((String) -> Void)? = nil) throws -> Int {
        try run(try prepare(), on: index, write: write, debug: debug)
    }

    private func prepare() throws -> (plan: SearchPlan, table: TableLayout?) {
        var query = self.query
        let retrieveURL = QueryAttributes.retrieveURL
        if baseURL != nil {
            query.fields.append(retrieveURL)
        } else if query.level != .instance, query.fields.contains(retrieveURL) || query.keys.contains(where: { $0.tag == retrieveURL }) {
            throw DwcError(.syntax, "RetrieveURL of \(query.level == .study ? "studies" : "series") needs --base-url URL "
                + "(or DWC_BASE_URL), the DICOMweb server that serves this archive: files have no URL for a study or series")
        }
        let table = format == .table ? TableLayout(query: query) : nil
        if let table { query.fields += table.columns.map(\.tag) }
        do { return (try query.plan(), table) } catch { throw DwcError(error) }
    }

    private func run(_ prepared: (plan: SearchPlan, table: TableLayout?), on index: ArchiveIndex,
                     write: ([UInt8]) -> Void, debug: ((String) -> Void)?) throws -> Int {
        let plan = prepared.plan
        do {
            if let debug {
                let paths = format == .paths
                debug("SQL: " + (paths ? plan.pathsSQL : plan.sql))
                for line in try index.explain(plan, paths: paths) { debug("plan: " + line) }
            }
            switch format {
            case .paths:
                return try index.searchPaths(plan) { write(Array((location.absolute($0) + "\n").utf8)) }
            case .json, .ndjson:
                return try writeJSON(plan, index: index, write: write)
            case .csv:
                return try writeCSV(plan, index: index, write: write)
            case .table:
                return try writeTable(prepared.table!, plan: plan, index: index, write: write)
            }
        } catch let error as DwcError {
            throw error
        } catch {
            throw DwcError(error)
        }
    }

    /// The index, or a clear error: missing (run dwc index), not SQLite, not an index, stale.
    public func openIndex() throws -> ArchiveIndex {
        let path = location.indexPath
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw DwcError(.indexError, "\(path): no index here: run dwc index first (or give --index FILE)")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw DwcError(.indexError, "\(path): not an index file") }
        guard info.st_size > 0 else { throw DwcError(.indexError, "\(path): empty index file: run dwc index first") }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw DwcError(.indexError, "\(path): cannot open index: \(String(cString: strerror(errno)))") }
        var header = [UInt8](repeating: 0, count: 16)
        let n = header.withUnsafeMutableBytes { read(fd, $0.baseAddress, 16) }
        close(fd)
        guard n == 16, header == Array("SQLite format 3\0".utf8) else {
            throw DwcError(.indexError, "\(path): not an SQLite database, so not a dwc index (check --index, or remove it and run dwc index)")
        }
        do {
            return try ArchiveIndex(path: path, create: false)
        } catch {
            throw DwcError(error)
        }
    }

    /// The RetrieveURL of a row. With a base URL, the DICOMweb form (PS3.18 §10.4):
    /// `{base}/studies/{uid}`, `…/series/{uid}`, `…/instances/{uid}`. Without one, an
    /// instance's `file://` + absolute path, percent-encoded as BulkDataURI.fileURI does (the
    /// archive root encoded once, not per row), and nothing for studies and series.
    var retrieveURL: (SearchRow) -> String? {
        if let baseURL {
            let capacity = baseURL.utf8.count + 230  // three UIDs of up to 64 characters and the path words
            return { row in
                guard let study = row.studyUID else { return nil }
                var url = baseURL
                url.reserveCapacity(capacity)
                url += "/studies/"
                Self.appendSegment(study, to: &url)
                if row.level != .study, let series = row.seriesUID {
                    url += "/series/"
                    Self.appendSegment(series, to: &url)
                    if row.level == .instance, let sop = row.sopInstanceUID {
                        url += "/instances/"
                        Self.appendSegment(sop, to: &url)
                    }
                }
                return url
            }
        }
        // Studies and series have none: the archive root is not encoded for them.
        guard query.level == .instance else { return { _ in nil } }
        let fileURL = self.fileURL
        return { row in
            guard let stored = row.storedPath else { return nil }
            return fileURL(stored)
        }
    }

    /// A UID as one path segment: as it is when it is digits and dots (every valid UID), else
    /// percent-encoded, `/` included.
    static func appendSegment(_ uid: String, to url: inout String) {
        if uid.utf8.allSatisfy({ ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: ".") }) {
            url += uid
        } else {
            url += percentEncoded(Substring(uid), keepingSlash: false)
        }
    }

    /// `file://` + the absolute path of a stored path.
    var fileURL: (String) -> String {
        let location = self.location
        let root = Self.percentEncoded(location.absolute("x").dropLast())
        return { stored in
            // An object indexed from a URL is retrieved from that URL.
            if RemoteAccess.isRemote(stored) { return stored }
            if stored.hasPrefix("/") { return "file://" + Self.percentEncoded(Substring(stored)) }
            return "file://" + root + Self.percentEncoded(Substring(stored))
        }
    }

    /// The base of DICOMweb RetrieveURLs: `option` (--base-url), else DWC_BASE_URL, else nil (an
    /// empty variable counts as unset). An http, https or file URL with something after `//`,
    /// without query, fragment, spaces or control characters; trailing slashes are dropped, so
    /// that `{base}/studies/…` has one. Anything else is exit 1.
    public static func baseURL(option: String?) throws -> String? {
        let environment = getenv("DWC_BASE_URL").map { String(cString: $0) }
        let source: String
        let given: String
        if let option {
            (source, given) = ("--base-url \(option)", option)
        } else if let environment, !environment.isEmpty {
            (source, given) = ("DWC_BASE_URL=\(environment)", environment)
        } else {
            return nil
        }
        guard let schemeEnd = given.firstRange(of: "://") else {
            throw DwcError(.syntax, "\(source): not a URL (http://, https:// or file://)")
        }
        let scheme = given[..<schemeEnd.lowerBound].lowercased()
        guard ["http", "https", "file"].contains(scheme) else {
            throw DwcError(.syntax, "\(source): the scheme must be http, https or file, not '\(scheme)'")
        }
        guard !given.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
            throw DwcError(.syntax, "\(source): spaces and control characters must be percent-encoded")
        }
        guard !given.contains("?"), !given.contains("#") else {
            throw DwcError(.syntax, "\(source): a base URL takes no query or fragment (the paths /studies/… are appended to it)")
        }
        var rest = given[schemeEnd.upperBound...]
        guard !rest.isEmpty else { throw DwcError(.syntax, "\(source): nothing after //") }
        if scheme != "file", rest.hasPrefix("/") { throw DwcError(.syntax, "\(source): no host") }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        return String(given[..<schemeEnd.upperBound]) + String(rest)
    }

    /// RFC 3986 unreserved characters and (unless `keepingSlash` is false: one path segment)
    /// `/` stay, every other byte is %XX (uppercase).
    static func percentEncoded(_ path: Substring, keepingSlash: Bool = true) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(path.utf8.count + 16)
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepingSlash:
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: JSON and NDJSON

    /// json: an array, `[]` when nothing matched; ndjson: one compact object per line. The
    /// objects are what DicomJSONEncoder writes for each result's data set.
    func writeJSON(_ plan: SearchPlan, index: ArchiveIndex, write: ([UInt8]) -> Void) throws -> Int {
        let array = format == .json
        let pretty = array && self.pretty
        let encoder = SearchResultJSON(plan: plan, pretty: pretty, depth: array ? 1 : 0)
        var first = true
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        if array { write(Array("[".utf8)) }
        let count = try index.searchRows(plan, retrieveURL: retrieveURL) { row in
            out.removeAll(keepingCapacity: true)
            if array {
                if !first { out.append(UInt8(ascii: ",")) }
                if pretty { out += [10, 32, 32] }
                encoder.append(row, to: &out)
            } else {
                encoder.append(row, to: &out)
                out.append(10)
            }
            first = false
            write(out)
        }
        if array { write(Array((pretty && count > 0 ? "\n]\n" : "]\n").utf8)) }
        return count
    }

    // MARK: CSV

    /// RFC 4180: a header row of keywords, then one row per result; fields with a comma, quote
    /// or line break are quoted, quotes doubled. Lines end with LF. Several values are joined
    /// by backslash, person names keep their = groups.
    func writeCSV(_ plan: SearchPlan, index: ArchiveIndex, write: ([UInt8]) -> Void) throws -> Int {
        let columns = plan.columns.enumerated().filter { $0.element.tag != .specificCharacterSet }
        write(Array((columns.map { Self.csvField($0.element.keyword) }.joined(separator: ",") + "\n").utf8))
        return try index.search(plan, retrieveURL: retrieveURL) { result in
            let fields = columns.map { Self.csvField(result.values[$0.offset]?.description ?? "") }
            write(Array((fields.joined(separator: ",") + "\n").utf8))
        }
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return text }
        var out = "\""
        for c in text { if c == "\"" { out += "\"\"" } else { out.append(c) } }
        return out + "\""
    }

    // MARK: Table

    func writeTable(_ layout: TableLayout, plan: SearchPlan, index: ArchiveIndex, write: ([UInt8]) -> Void) throws -> Int {
        var columns = layout.columns
        if query.allFields {
            for column in plan.columns where column.tag != .specificCharacterSet && !columns.contains(where: { $0.tag == column.tag }) {
                columns.append(TableLayout.Column(tag: column.tag, label: column.keyword))
            }
        }
        var widths = columns.map { TableLayout.width($0.label) }
        var pending: [[String]] = []
        var sized = false
        func emit(_ cells: [String]) {
            var line = ""
            for (i, cell) in cells.enumerated() {
                let text = TableLayout.truncated(cell, to: widths[i])
                line += text
                if i < cells.count - 1 {
                    line += String(repeating: " ", count: widths[i] - TableLayout.width(text) + 2)
                }
            }
            while line.last == " " { line.removeLast() }
            write(Array((line + "\n").utf8))
        }
        func flush() {
            sized = true
            widths = widths.map { min($0, TableLayout.maximumWidth) }
            emit(columns.map(\.label))
            for row in pending { emit(row) }
            pending = []
        }
        let count = try index.search(plan, retrieveURL: retrieveURL) { result in
            let cells = columns.map { TableLayout.cell(result, $0.tag) }
            if sized {
                emit(cells)
            } else {
                for (i, cell) in cells.enumerated() { widths[i] = max(widths[i], TableLayout.width(cell)) }
                pending.append(cells)
                if pending.count >= tableSizingRows { flush() }
            }
        }
        if !sized, count > 0 { flush() }
        return count
    }
}

/// The columns of `--format table`: a handful per level, then the attributes named on the
/// command line.
struct TableLayout {
    struct Column {
        let tag: Tag
        let label: String
    }

    static let maximumWidth = 40
    let columns: [Column]

    init(query: SearchQuery) {
        func column(_ keyword: String, _ label: String? = nil) -> Column {
            Column(tag: DataDictionary.entry(keyword: keyword)!.tag, label: label ?? keyword)
        }
        var columns: [Column]
        switch query.level {
        case .study:
            columns = [column("PatientName"), column("PatientID"), column("StudyDate"), column("StudyTime"),
                       column("AccessionNumber"), column("ModalitiesInStudy", "Modalities"), column("StudyDescription"),
                       column("NumberOfStudyRelatedSeries", "Series"), column("NumberOfStudyRelatedInstances", "Instances"),
                       column("StudyInstanceUID")]
        case .series:
            columns = [column("PatientName"), column("StudyDate"), column("Modality"), column("SeriesNumber", "Number"),
                       column("SeriesDescription"), column("NumberOfSeriesRelatedInstances", "Instances"),
                       column("SeriesInstanceUID")]
        case .instance:
            columns = [column("PatientName"), column("Modality"), column("SeriesNumber", "Series"),
                       column("InstanceNumber", "Number"), column("SOPClassUID", "SOPClass"), column("Rows"),
                       column("Columns"), column("NumberOfFrames", "Frames"), column("SOPInstanceUID")]
        }
        for tag in query.keys.map(\.tag) + query.fields where !columns.contains(where: { $0.tag == tag }) {
            columns.append(Column(tag: tag, label: DataDictionary.keyword(for: tag)))
        }
        self.columns = columns
    }

    /// What a person wants to read: the Alphabetic group of names (else the first group that has
    /// one), the registry keyword of SOP classes and transfer syntaxes.
    static func cell(_ result: SearchResult, _ tag: Tag) -> String {
        guard let value = result.value(tag) else { return "" }
        let text = value.description
        let vr = DataDictionary.entry(for: tag)?.vr
        if vr == .PN {
            return text.split(separator: "\\", omittingEmptySubsequences: false).map { name in
                name.split(separator: "=", omittingEmptySubsequences: false).first(where: { !$0.isEmpty }).map(String.init) ?? ""
            }.joined(separator: "\\")
        }
        if vr == .UI, tag == .sopClassUID || tag == Tag(0x0008, 0x3002), let keyword = UIDRegistry.entry(for: text)?.keyword, !keyword.isEmpty {
            return keyword
        }
        return text
    }

    /// Terminal columns: East Asian wide and fullwidth characters take two.
    static func width(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { total, scalar in
            let v = scalar.value
            if scalar.properties.generalCategory == .nonspacingMark || v == 0x200B { return total }
            let wide = (0x1100...0x115F).contains(v) || (0x2E80...0xA4CF).contains(v) || (0xAC00...0xD7A3).contains(v)
                || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v) || (0xFF00...0xFF60).contains(v)
                || (0xFFE0...0xFFE6).contains(v) || (0x20000...0x3FFFD).contains(v)
            return total + (wide ? 2 : 1)
        }
    }

    static func truncated(_ text: String, to width: Int) -> String {
        guard self.width(text) > width else { return text }
        var out = ""
        for c in text {
            if self.width(out + String(c)) > width - 1 { break }
            out.append(c)
        }
        return out + "…"
    }
}
