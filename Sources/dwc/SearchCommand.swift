@preconcurrency import ArgumentParser
import DicomCore
import DicomIndex
import DwcKit

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find studies, series or instances in the archive's index (QIDO-RS matching).",
        discussion: """
        Matching (PS3.4 C.2.2.2, PS3.18 8.3.4): -k KEY=VALUE with KEY a keyword, (gggg,eeee), \
        gggg,eeee or ggggeeee. A single value matches exactly (case-sensitive); * and ? are \
        wildcards (% and _ are ordinary characters); DA, TM and DT take ranges A-B, -B and A- \
        (a TM range whose start is later than its end wraps past midnight); \
        UIDs take lists a\\b; an empty value (or *) matches everything and returns the \
        attribute, as does a bare -k KEY. Person names match case-insensitively on any of the \
        Alphabetic, Ideographic and Phonetic groups (--fuzzy: also the start of any name \
        component). Study keys work at every level, series keys at series and instance level. \
        Results are ordered by StudyDate, StudyTime, StudyInstanceUID, then SeriesNumber, \
        SeriesInstanceUID, then InstanceNumber, SOPInstanceUID (missing values last). \
        Details and the keys of each level: docs/search.md.

        Exit status: 0 ok (also with no match), 1 bad option, key or value, 80 no index or not \
        an index (run dwc index), 81 index of another version (run dwc index --rebuild).
        """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("What to find: studies, series or instances.", valueName: "level"))
    var level: SearchOperation.Level

    @Option(name: .short, help: ArgumentHelp("Match KEY against VALUE; a bare KEY returns it (repeatable).", valueName: "key[=value]"))
    var key: [String] = []

    @Option(help: ArgumentHelp("Only series or instances of this study.", valueName: "uid"))
    var study: String?

    @Option(help: ArgumentHelp("Only instances of this series.", valueName: "uid"))
    var series: String?

    @Option(help: ArgumentHelp("Also return KEY; 'all' returns every attribute the index has (repeatable).", valueName: "key|all"))
    var field: [String] = []

    @Option(help: ArgumentHelp("At most N results.", valueName: "n"))
    var limit: Int?

    @Option(help: ArgumentHelp("Skip the first N results.", valueName: "n"))
    var offset: Int = 0

    @Flag(help: "Person names also match at the start of any name component.")
    var fuzzy = false

    @Option(help: "Output: json (DICOM JSON array), ndjson, table, csv or paths (one file per line).")
    var format: SearchOperation.Format = .json

    @Flag(help: "JSON on one line.")
    var compact = false

    @Option(name: .customLong("base-url"),
            help: ArgumentHelp("RetrieveURL of every result as {url}/studies/{uid}[/series/{uid}[/instances/{uid}]], for an archive a DICOMweb server also serves (env DWC_BASE_URL; default: instances get their file:// URL, studies and series none).",
                               valueName: "url"))
    var baseURL: String?

    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more") }
        if offset < 0 { throw ValidationError("--offset must be 0 or more") }
        if series != nil, level == .studies { throw ValidationError("--series scopes series or instances searches, not studies") }
    }

    func run() throws {
        try global.apply()
        var query = SearchQuery(level: level.queryLevel)
        do {
            query.keys = try key.map { try QueryKey(parsing: $0, level: level.queryLevel) }
            for name in field {
                if name.lowercased() == "all" {
                    query.allFields = true
                } else if let tag = Tag(parsing: name) {
                    query.fields.append(tag)
                } else {
                    throw DwcError(.syntax, "--field \(name): not a DICOM keyword or tag; \(SearchKeys.summary(at: level.queryLevel))")
                }
            }
        } catch {
            throw DwcError(error)
        }
        query.studyUID = study
        query.seriesUID = series
        query.limit = limit
        query.offset = offset
        query.fuzzy = fuzzy
        var operation = SearchOperation(location: global.location, query: query)
        operation.baseURL = try SearchOperation.baseURL(option: baseURL)
        operation.format = format
        operation.pretty = !compact
        let debug: ((String) -> Void)? = Output.verbosity >= 2 ? { Output.debug($0) } : nil
        let count = try operation.run(write: { Output.write(bytes: $0) }, debug: debug)
        Output.flush()
        Output.info("\(count) \(format == .paths ? "files" : level.rawValue)")
    }
}

extension SearchOperation.Format: ExpressibleByArgument {}
extension SearchOperation.Level: ExpressibleByArgument {}
