@preconcurrency import ArgumentParser
import DwcKit
#if canImport(Glibc)
import Glibc
#endif

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Record the DICOM files of an archive in its SQLite index (headers only, incremental).",
        discussion: """
        Walks PATHs (default: the archive root), skipping hidden entries and the .dwc folder; files \
        are recognised by content, not extension. Only new and changed files (size, mtime, inode) \
        are read, and only their headers; files gone from the walked paths are forgotten. The index \
        is <archive>/.dwc/index.sqlite unless --index; a new one is built in a hidden file beside \
        it and appears when complete (after 100,000 files it grows in place). Ends with a summary \
        line on stderr (or JSON on stdout with --summary-json). Exit status 0, or 22 when some \
        files failed.

        URLs (https://, s3://bucket/prefix/, gs://bucket/prefix/, also from --urls-from) are \
        indexed too: s3 and gs prefixes are listed, each object's header is read with ranged GETs \
        and its frame table stored with its ETag; objects whose listed ETag and size are unchanged \
        are skipped. With only URLs, the archive root is not walked.
        """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customShort("j", allowingJoined: true), help: ArgumentHelp("Parallel parsers (default: the number of cores).", valueName: "n"))
    var jobs: Int?

    @Flag(help: "Follow symbolic links inside the tree (loops are detected).")
    var followSymlinks = false

    @Option(help: ArgumentHelp("Index only files whose name or path matches this glob (repeatable).", valueName: "glob"))
    var include: [String] = []

    @Option(help: ArgumentHelp("Skip files whose name or path matches this glob (repeatable).", valueName: "glob"))
    var exclude: [String] = []

    @Option(help: ArgumentHelp("Index the files listed in FILE (- for stdin), one per line.", valueName: "file"))
    var filesFrom: String?

    @Option(help: ArgumentHelp("Index the URLs listed in FILE (- for stdin), one per line.", valueName: "file"))
    var urlsFrom: String?

    @Flag(name: .customShort("0"), help: "--files-from entries are separated by NUL, not newline.")
    var null = false

    @Flag(help: "Keep entries whose files are gone.")
    var noPrune = false

    @Flag(help: "Start the index over.")
    var rebuild = false

    @Flag(help: "Print the summary as JSON on stdout.")
    var summaryJson = false

    @Argument(help: ArgumentHelp("Files, directories or URLs to index (default: the archive root).", valueName: "path"))
    var paths: [String] = []

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("-j must be at least 1") }
        if filesFrom != nil, paths.contains(where: { !RemoteAccess.isRemote($0) }) { throw ValidationError("give PATHs or --files-from, not both") }
        if filesFrom == "-", urlsFrom == "-" { throw ValidationError("--files-from and --urls-from cannot both read stdin") }
    }

    func run() throws {
        try global.apply()
        var operation = IndexOperation(location: global.location)
        operation.paths = paths.filter { !RemoteAccess.isRemote($0) }
        operation.urls = paths.filter { RemoteAccess.isRemote($0) }
        if let urlsFrom {
            operation.urls += try readList(urlsFrom, separator: 10).map { $0.trimmingCharacters(in: " ").trimmingCharacters(in: "\r") }.filter { !$0.isEmpty }
            if operation.urls.isEmpty { throw DwcError(.noInput, "\(urlsFrom): no URLs") }
        }
        operation.walker = FileWalker(followSymlinks: followSymlinks, include: include, exclude: exclude)
        operation.prune = !noPrune
        operation.rebuild = rebuild
        if let jobs { operation.jobs = jobs; operation.remoteJobs = jobs }
        if let filesFrom { operation.fileList = try readList(filesFrom, separator: null ? 0 : 10) }
        let showProgress = isatty(2) == 1 && Output.verbosity >= 0
        var reporter = IndexOperation.Reporter(problem: { Output.error($0) }, warning: { Output.warning($0) })
        if Output.verbosity >= 2 { reporter.debug = { Output.debug($0) } }
        if showProgress {
            reporter.progress = { done, total in Output.standardError("\rindexing: \(done)/\(total) files") }
        }
        let summary = try operation.run(reporter: reporter)
        if showProgress { Output.standardError("\r\u{1B}[K") }
        if summaryJson { Output.write(summary.json + "\n") }
        if Output.verbosity >= 0 { Output.standardError(summary.line + "\n") }
        if let remote = RemoteAccess.statistics { Output.debug("remote: \(remote.requests) requests, \(remote.bytes) bytes") }
        Output.flush()
        if summary.failed > 0 { throw ExitCode(ExitStatus.invalidInput.rawValue) }
    }
}
