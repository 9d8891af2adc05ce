@preconcurrency import ArgumentParser
import DwcKit
#if canImport(Glibc)
import Glibc
#endif

extension StoreOperation.Mode: ExpressibleByArgument {}
extension StoreOperation.DuplicatePolicy: ExpressibleByArgument {}

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Store DICOM files in the archive atomically, index them, and report STOW-RS style.",
        discussion: """
        Each input must be a Part 10 file with file meta (or, with --add-meta, a data set that dwc \
        gives a meta header) whose SOP Class, SOP Instance, Study and Series Instance UIDs are \
        present and valid, and whose meta agrees with the data set. It is written to a temporary \
        file in its destination folder, made durable, renamed into place, the folder made durable, \
        and then recorded in the index: after a crash an instance is either absent or complete, and \
        the next store cleans up. Directories are walked recursively (hidden entries skipped; files \
        that are not DICOM are skipped with a warning there, but fail when named). "-" reads one \
        Part 10 stream from stdin.

        Layout placeholders: {study} {series} {sop} (validated UIDs), {modality} {patient_id} \
        (reduced to letters, digits, '.', '_', '-'). The template must contain {sop}.

        The response (PS3.18 10.5.3) goes to stdout as DICOM JSON: ReferencedSOPSequence \
        (0008,1199) with RetrieveURL (0008,1190) file:// URIs, WarningReason B000 when the meta was \
        added; FailedSOPSequence (0008,1198) with FailureReason (0008,1197): C000 cannot \
        understand, A900 data set does not match SOP class (UIDs missing, invalid or disagreeing \
        with the meta), 0111 duplicate SOP instance with other content, 0110 processing failure, \
        0122 SOP class not supported (DICOMDIR), A700 out of resources (disk full, quota, file size \
        limit). Every item names its input in the private element (0009,1001) of block \
        "DWC STORE", and the reason in (0009,1002). A summary line goes to stderr. See docs/store.md.

        Exit status: 0 when every input was stored or was there already, 22 when some failed, 23 \
        when all failed; 1 for usage errors (also an invalid --layout), 45 when the archive is not \
        writable, 80 when the index cannot be opened.
        """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("copy, move (the input goes once stored) or hardlink (same file system).", valueName: "mode"))
    var mode: StoreOperation.Mode = .copy

    @Option(help: ArgumentHelp("Path template inside the archive (default \(StoreLayout.defaultTemplate)).", valueName: "template"))
    var layout: String?

    @Option(help: ArgumentHelp("Another file with the same SOP Instance UID is stored: reject (failure 0111), skip, or replace (the old file stays until the new one is durable).",
                               valueName: "policy"))
    var onDuplicate: StoreOperation.DuplicatePolicy = .reject

    @Flag(help: "Store data sets without file meta, writing a meta header in front of their unchanged bytes (WarningReason B000).")
    var addMeta = false

    @Flag(help: "Reject files with defects that are otherwise stored with a warning.")
    var strict = false

    @Option(name: .customShort("j", allowingJoined: true), help: ArgumentHelp("Parallel parsers (default: the number of cores).", valueName: "n"))
    var jobs: Int?

    @Option(help: ArgumentHelp("Files per batch: written, synced and indexed together (default 1024).", valueName: "n"))
    var batchSize: Int?

    @Flag(help: "Follow symbolic links inside input directories.")
    var followSymlinks = false

    @Option(help: ArgumentHelp("Store only files whose name or path matches this glob (repeatable).", valueName: "glob"))
    var include: [String] = []

    @Option(help: ArgumentHelp("Skip files whose name or path matches this glob (repeatable).", valueName: "glob"))
    var exclude: [String] = []

    @Option(help: ArgumentHelp("Store the files listed in FILE (- for stdin), one per line.", valueName: "file"))
    var filesFrom: String?

    @Flag(name: .customShort("0"), help: "--files-from entries are separated by NUL, not newline.")
    var null = false

    @Flag(help: "JSON on one line.")
    var compact = false

    @Argument(help: ArgumentHelp("Files or directories to store; - for a Part 10 stream on stdin.", valueName: "path"))
    var paths: [String] = []

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("-j must be at least 1") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if paths.isEmpty, filesFrom == nil { throw ValidationError("give files or directories to store, - for stdin, or --files-from") }
        if filesFrom == "-", paths.contains("-") { throw ValidationError("stdin cannot be both --files-from - and an input") }
        if paths.filter({ $0 == "-" }).count > 1 { throw ValidationError("- may be given once") }
    }

    func run() throws {
        try global.apply()
        var operation = StoreOperation(location: global.location)
        operation.paths = paths
        operation.mode = mode
        do {
            if let layout { operation.layout = try StoreLayout(template: layout) }
        } catch let error as DwcError {
            throw ValidationError(error.message)
        }
        operation.onDuplicate = onDuplicate
        operation.addMeta = addMeta
        operation.strict = strict
        operation.walker = FileWalker(followSymlinks: followSymlinks, include: include, exclude: exclude)
        if let jobs { operation.jobs = jobs }
        if let batchSize { operation.batchSize = batchSize }
        if let filesFrom { operation.fileList = try readList(filesFrom, separator: null ? 0 : 10) }
        let showProgress = isatty(2) == 1 && Output.verbosity >= 0
        var reporter = StoreOperation.Reporter(problem: { Output.error($0) }, warning: { Output.warning($0) })
        if Output.verbosity >= 2 { reporter.debug = { Output.debug($0) } }
        if showProgress {
            reporter.progress = { done, total in Output.standardError("\rstoring: \(done)/\(total) files") }
        }
        let report = try operation.run(reporter: reporter)
        if showProgress { Output.standardError("\r\u{1B}[K") }
        Output.write(try report.json(pretty: !compact) + "\n")
        Output.flush()
        if Output.verbosity >= 0 { Output.standardError(report.line + "\n") }
        if report.exitStatus != .ok { throw ExitCode(report.exitStatus.rawValue) }
    }
}
