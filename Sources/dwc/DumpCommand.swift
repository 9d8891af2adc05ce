@preconcurrency import ArgumentParser
import DicomCore
import DwcKit

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print the elements of DICOM files, like dcmdump, or as DICOM JSON.",
        discussion: """
        Text output follows dcmdump: tag, VR, value (abbreviated), length, VM, keyword; sequence \
        items are indented. JSON output is the DICOM JSON Model (PS3.18 Annex F) of the data set: \
        one object for one file, an array for several. Binary values up to --inline-threshold \
        bytes are InlineBinary; larger ones are BulkDataURI (file://PATH?offset=N&length=N). \
        Exit status: 0 ok, 20 cannot read, 21 not found, 22 not valid DICOM (see docs/exit-codes.md).
        """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "Output format: text or json.")
    var format: DumpOperation.Format = .text

    @Flag(help: "Do not read pixel data or anything after it.")
    var stopBeforePixels = false

    @Option(help: ArgumentHelp("JSON: binary values up to this many bytes are inline.", valueName: "bytes"))
    var inlineThreshold = 1024

    @Flag(help: "JSON on one line per object.")
    var compact = false

    @Flag(help: "Reject files with defects that are otherwise read with a warning.")
    var strict = false

    @Argument(help: ArgumentHelp("DICOM files, or - for standard input.", valueName: "file"))
    var files: [String]

    func run() throws {
        try global.apply()
        let loader = DicomFileLoader(stopBeforePixels: stopBeforePixels, strict: strict)
        let operation = DumpOperation(format: format, inlineThreshold: inlineThreshold, pretty: !compact)
        var failure: DwcError?
        var writer = JSONWriter(pretty: !compact)
        let asArray = format == .json && files.count > 1
        if asArray { writer.beginArray() }
        for path in files {
            do {
                let file = try loader.load(path)
                for warning in file.warnings { Output.warning("\(path): \(warning)") }
                switch format {
                case .text:
                    Output.write(operation.text(file, path: path))
                case .json:
                    try operation.json(file, path: path, writer: &writer)
                    if !asArray {
                        Output.write(bytes: writer.bytes + [10])
                        writer = JSONWriter(pretty: !compact)
                    }
                }
            } catch {
                let e = DwcError(error)
                Output.error(e.message)
                failure = failure ?? e
            }
        }
        if asArray {
            writer.endArray()
            Output.write(bytes: writer.bytes + [10])
        }
        Output.flush()
        if let failure { throw ExitCode(failure.status.rawValue) }
    }
}
extension DumpOperation.Format: ExpressibleByArgument {}
