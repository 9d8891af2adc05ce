@preconcurrency import ArgumentParser
import DicomCore
import DwcKit

struct RetrieveFramesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrieve-frames",
        abstract: "Write frames of DICOM instances, each read with one read, as WADO-RS frames does.",
        discussion: """
        INSTANCE is a file, a SOP Instance UID (looked up in the index) or - (a Part 10 stream on \
        stdin); --study/--series select every instance they hold. Frames are 1-based. Encapsulated \
        frames are found from the Extended or Basic Offset Table or a scan of the item headers; \
        the table is kept in the index, so later retrievals read only the frames. Native frames \
        are delivered little endian. A frame number out of range is exit status 84.

        INSTANCE may be a URL (https://, s3://, gs://). An indexed URL costs one ranged GET per \
        frame (If-Match on its indexed ETag; adjacent frames, and frames whose gap is under 64 KiB \
        and under 1 % of the bytes wanted, share a request of up to 16 MiB; --parallel requests at \
        once); one that changed (HTTP 412) is indexed again.
        """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Frames to write, e.g. 1,3,5-8 (default: all).", valueName: "list"))
    var frames: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Output directory, or - for one frame on stdout (default: .).", valueName: "dir"))
    var output: String = "."

    @Option(help: ArgumentHelp("File name template over {sop} {frame} {series} {study} {ext}.", valueName: "template"))
    var name = "{sop}_{frame}.{ext}"

    @Option(help: ArgumentHelp("application/octet-stream (decoded, native little endian), image/png, image/jpeg, image/x-portable-anymap (rendered with the default window), or the frames' own type (as stored).", valueName: "type"))
    var mediaType: String?

    @Flag(help: "Write a multipart/related document (one part per frame) to stdout.")
    var multipart = false

    @Flag(help: "Print one NDJSON line per frame written (path, SOPInstanceUID, frame, transferSyntaxUID, offset, length).")
    var manifest = false

    @Option(help: ArgumentHelp("Requests made at once when reading frames from URLs (default 8).", valueName: "n"))
    var parallel: Int = 8

    @Option(help: ArgumentHelp("Study Instance UID: every instance of the study.", valueName: "uid"))
    var study: String?

    @Option(help: ArgumentHelp("Series Instance UID: every instance of the series.", valueName: "uid"))
    var series: String?

    @Option(help: ArgumentHelp("Read SOP Instance UIDs or paths from FILE (- for stdin), one per line.", valueName: "file"))
    var uidsFrom: String?

    @Argument(help: ArgumentHelp("Files, SOP Instance UIDs, or - for stdin.", valueName: "instance"))
    var instances: [String] = []

    func validate() throws {
        if multipart, output != "." { throw ValidationError("--multipart writes to stdout; drop -o") }
        if manifest, multipart || output == "-" { throw ValidationError("--manifest needs -o DIR") }
        if parallel < 1 || parallel > 256 { throw ValidationError("--parallel must be 1-256") }
    }

    func run() throws {
        try global.apply()
        RemoteAccess.parallel = parallel
        var operation = RetrieveFramesOperation(location: global.location)
        operation.inputs = instances
        if let uidsFrom { operation.inputs += try readList(uidsFrom, separator: 10).map { $0.trimmingCharacters(in: " ").trimmingCharacters(in: "\r") } }
        operation.studyUID = study
        operation.seriesUID = series
        if let frames { operation.frames = try FrameSelection(parsing: frames) }
        operation.manifest = manifest
        operation.mediaType = mediaType
        if multipart || output == "-" {
            guard !Output.stdoutIsTerminal else {
                throw DwcError(.cannotWriteOutput, "refusing to write binary frames to a terminal; redirect stdout or use -o DIR")
            }
            operation.output = multipart ? .multipart : .standardOutput
        } else {
            guard isWritableDirectory(output) else {
                throw DwcError(.badOutputDirectory, "\(output): not a writable directory")
            }
            operation.output = .directory(output, nameTemplate: name)
        }
        let sink = RetrieveFramesOperation.Sink(write: { Output.write(bytes: $0) }, warning: { Output.warning($0) })
        let written = try operation.run(sink: sink)
        Output.flush()
        Output.info("\(written) frames written")
        if let remote = RemoteAccess.statistics { Output.debug("remote: \(remote.requests) requests, \(remote.bytes) bytes") }
    }
}
