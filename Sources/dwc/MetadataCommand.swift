@preconcurrency import ArgumentParser
import DwcKit

struct MetadataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metadata",
        abstract: "Print the DICOM JSON metadata of whole instances, as WADO-RS metadata does.",
        discussion: """
        INSTANCE is a file, a SOP Instance UID (looked up in the index) or - (a Part 10 stream on \
        stdin); --instance, --series and --study select through the index. Output: a DICOM JSON \
        array (PS3.18 F.2) of the full data sets, read from the files, one object per instance, \
        written as each file is read. Order: INSTANCEs and --uids-from lines as given, then \
        --instance UIDs, then --series/--study instances by series number, instance number and \
        SOP Instance UID (missing numbers last). A file named twice is written once.

        Bulk data is by reference: Pixel Data always, other binary values (OB OD OF OL OV OW UN) \
        longer than --inline-threshold bytes, as BulkDataURI file:///PATH?offset=N&length=N \
        (&inflated=1 in deflated files), which dwc retrieve-bulkdata resolves. Values read from \
        stdin are inlined (there is no file to refer to) and Pixel Data has no value there.

        Exit status: 0 ok; 1 bad option; 21 a file or UID not found, or nothing selected (before \
        any output); 22 some files could not be read (each reported as E: PATH: REASON, the \
        others delivered); 23 none could; 80/81 index errors. docs/wado.md has the details.
        """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("SOP Instance UID, looked up in the index (repeatable).", valueName: "uid"))
    var instance: [String] = []

    @Option(help: ArgumentHelp("Series Instance UID: every instance of the series.", valueName: "uid"))
    var series: String?

    @Option(help: ArgumentHelp("Study Instance UID: every instance of the study.", valueName: "uid"))
    var study: String?

    @Option(help: ArgumentHelp("Read paths or SOP Instance UIDs from FILE (- for stdin), one per line.", valueName: "file"))
    var uidsFrom: String?

    @Option(help: "Output: json (one DICOM JSON array) or ndjson (one object per line).")
    var format: MetadataOperation.Format = .json

    @Flag(help: "JSON without indentation.")
    var compact = false

    @Option(help: ArgumentHelp("Binary values up to this many bytes are InlineBinary, longer ones BulkDataURI.", valueName: "bytes"))
    var inlineThreshold = 1024

    @Flag(help: "Inline every binary value except pixel data.")
    var inline = false

    @Flag(help: "Add the File Meta Information elements (group 0002).")
    var includeMeta = false

    @Option(name: .customShort("j", allowingJoined: true), help: ArgumentHelp("Files read at once (default: the number of cores); output order is unchanged.", valueName: "n"))
    var jobs: Int?

    @Argument(help: ArgumentHelp("Files, SOP Instance UIDs, or - for stdin.", valueName: "instance"))
    var instances: [String] = []

    func validate() throws {
        if inlineThreshold < 0 { throw ValidationError("--inline-threshold must be 0 or more") }
        if let jobs, jobs < 1 { throw ValidationError("-j must be at least 1") }
        if uidsFrom == "-", instances.contains("-") { throw ValidationError("stdin cannot be both --uids-from - and an instance") }
    }

    func run() throws {
        try global.apply()
        var operation = MetadataOperation(location: global.location)
        operation.selection = try InstanceSelection(arguments: instances, uidsFrom: uidsFrom, series: series, study: study)
        operation.selection.instanceUIDs = instance
        operation.format = format
        operation.pretty = !compact
        operation.inlineThreshold = inlineThreshold
        operation.inlineAll = inline
        operation.includeMeta = includeMeta
        if let jobs { operation.jobs = jobs }
        let sink = MetadataOperation.Sink(write: { Output.write(bytes: $0) }, warning: { Output.warning($0) }, error: { Output.error($0) })
        let clock = ContinuousClock()
        let start = clock.now
        let summary = try operation.run(sink: sink)
        Output.flush()
        let elapsed = clock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15
        Output.info("\(summary.delivered) instances, \(summary.failed) failed in \(String(format3: milliseconds)) ms")
        if summary.status != .ok { throw ExitCode(summary.status.rawValue) }
    }
}

extension MetadataOperation.Format: ExpressibleByArgument {}

extension String {
    /// A duration with three decimals, without Foundation.
    init(format3 value: Double) {
        let thousandths = Int((value * 1000).rounded())
        self = "\(thousandths / 1000)." + String(thousandths % 1000).leftPaddedWithZeros(to: 3)
    }

    fileprivate func leftPaddedWithZeros(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
