@preconcurrency import ArgumentParser
import DicomCore
import DwcKit

struct RetrieveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrieve",
        abstract: "Write whole DICOM instances as files or as a multipart stream, as WADO-RS retrieve does.",
        discussion: """
        INSTANCE is a file, a SOP Instance UID (looked up in the index) or - (a Part 10 stream on \
        stdin); --series and --study select every instance they hold; --uids-from reads paths or \
        UIDs one per line (dwc search instances --format paths | dwc retrieve --uids-from -). \
        Order: as for dwc metadata (series number, instance number, SOP Instance UID for \
        --series/--study).

        -o DIR writes one file per instance at --layout: hierarchical ({study}/{series}/{sop}.dcm, \
        the default), flat ({sop}.dcm) or a template over {study} {series} {sop}. Placeholders \
        are only filled with valid UIDs (PS3.5 9.1): an instance with a missing or invalid UID is \
        reported, not written. Files appear complete (temporary file, then rename). -o - writes \
        one instance to stdout; --multipart writes a multipart/related; type="application/dicom" \
        document to stdout, one part per instance. Binary output never goes to a terminal.

        Files are copied byte for byte. --transfer-syntax 1.2.840.10008.1.2.1 rewrites native \
        files in another syntax (implicit VR, explicit big endian, deflated) as Explicit VR \
        Little Endian; encapsulated (compressed) files in another syntax are not decompressed: \
        each is reported (E:) and not written, the others are, and the exit status is 82.

        Exit status: 0 ok; 1 bad option; 21 a file or UID not found, or nothing selected (before \
        anything is written); 22 some instances failed (E: lines, the others delivered); 23 all \
        failed; 40 cannot write; 45 bad output directory; 82 unsupported --transfer-syntax, or an \
        encapsulated instance it would have to decompress (that instance not written).
        """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Series Instance UID: every instance of the series.", valueName: "uid"))
    var series: String?

    @Option(help: ArgumentHelp("Study Instance UID: every instance of the study.", valueName: "uid"))
    var study: String?

    @Option(help: ArgumentHelp("Read paths or SOP Instance UIDs from FILE (- for stdin), one per line.", valueName: "file"))
    var uidsFrom: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Output directory, or - for one instance on stdout.", valueName: "dir"))
    var output: String?

    @Option(help: ArgumentHelp("hierarchical, flat, or a template over {study} {series} {sop} (default: hierarchical).", valueName: "layout"))
    var layout = "hierarchical"

    @Flag(help: "Write a multipart/related; type=\"application/dicom\" document to stdout.")
    var multipart = false

    @Option(help: ArgumentHelp("Rewrite native files in this transfer syntax (1.2.840.10008.1.2.1).", valueName: "uid"))
    var transferSyntax: String?

    @Argument(help: ArgumentHelp("Files, SOP Instance UIDs, or - for stdin.", valueName: "instance"))
    var instances: [String] = []

    func validate() throws {
        if multipart, output != nil { throw ValidationError("--multipart writes to stdout; drop -o") }
        if !multipart, output == nil { throw ValidationError("give -o DIR, -o - or --multipart") }
        if uidsFrom == "-", instances.contains("-") { throw ValidationError("stdin cannot be both --uids-from - and an instance") }
    }

    func run() throws {
        try global.apply()
        var operation = RetrieveOperation(location: global.location)
        operation.selection = try InstanceSelection(arguments: instances, uidsFrom: uidsFrom, series: series, study: study)
        if let transferSyntax { operation.transferSyntax = TransferSyntax(uid: transferSyntax) }
        if multipart || output == "-" {
            guard !Output.stdoutIsTerminal else {
                throw DwcError(.cannotWriteOutput, "refusing to write DICOM to a terminal; redirect stdout or use -o DIR")
            }
            operation.output = multipart ? .multipart : .standardOutput
        } else if let output {
            operation.output = .directory(output, layout: try RetrieveOperation.Layout(parsing: layout))
        }
        let sink = RetrieveOperation.Sink(write: { Output.write(bytes: $0) }, warning: { Output.warning($0) }, error: { Output.error($0) })
        let summary = try operation.run(sink: sink)
        Output.flush()
        Output.info("\(summary.written) instances written (\(summary.rewritten) rewritten), \(summary.failed) failed")
        if summary.status != .ok { throw ExitCode(summary.status.rawValue) }
    }
}
