@preconcurrency import ArgumentParser
import DwcKit

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render frames of DICOM images to PNG, JPEG or PNM, as a viewer shows them.",
        usage: "dwc render [<options>] IN [OUT]",
        discussion: [
            "IN is a file, a SOP Instance UID (looked up in the index) or - (a Part 10 stream on stdin); with -o OUT every argument is an input. OUT is a file, a directory, or a template with {frame} (also {stem}, {sop}); without OUT the image goes to stdout (never to a terminal). Several frames are named {stem}.{frame}.{ext}. The format comes from --format, else OUT's extension (.png, .jpg, .pnm/.pgm/.ppm), else PNG.",
            "Grayscale pipeline (PS3.3 C.11): Modality LUT (rescale slope/intercept, Modality LUT Sequence, or the Pixel Value Transformation functional group), then VOI: by default the file's first window, else its first VOI LUT, else a min-max window; then Presentation LUT Shape, or MONOCHROME1, inverts. Colour: RGB, YBR_FULL(_422), YBR_PARTIAL, PALETTE COLOR (also segmented). --size and --scale keep the aspect ratio (area averaging to shrink, bilinear to enlarge). Frames are 1-based. See docs/render.md.",
            "Exit status: 0 ok, 1 syntax, 21 not found, 22 not DICOM, 40 cannot write, 45 bad output directory, 82 unsupported transfer syntax, 83 decode failed, 84 frame out of range, 85 encode failed.",
        ].joined(separator: "\n\n"))

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Input, then optionally the output (or inputs only, with -o).", valueName: "IN [OUT]"))
    var arguments: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("Output file, directory or {frame} template; - for stdout.", valueName: "out"))
    var output: String?

    @Option(help: ArgumentHelp("Output format: png, jpeg or pnm (default: from OUT's extension, else png).", valueName: "format"))
    var format: String?

    @Option(help: ArgumentHelp("Render frame N (1-based; default 1).", valueName: "n"))
    var frame: Int?

    @Option(help: ArgumentHelp("Render the listed frames, e.g. 1,3,5-8.", valueName: "list"))
    var frames: String?

    @Flag(help: "Render every frame.")
    var allFrames = false

    @Option(parsing: .unconditional,
            help: ArgumentHelp("VOI window CENTER,WIDTH[,LINEAR|LINEAR_EXACT|SIGMOID]; negative centres parse (--window -600,1600).", valueName: "c,w"))
    var window: String?

    @Option(help: ArgumentHelp("Use the file's n-th window (1-based).", valueName: "n"))
    var useWindow: Int?

    @Option(help: ArgumentHelp("Use the file's n-th VOI LUT (1-based).", valueName: "n"))
    var useVoiLut: Int?

    @Flag(help: "Window from the frame's smallest and largest values.")
    var minMaxWindow = false

    @Flag(help: "No VOI stage: the whole range the modality stage can produce maps to the output.")
    var noWindowing = false

    @Flag(help: "Skip the Modality LUT stage (rescale slope/intercept, Modality LUT).")
    var noModality = false

    @Flag(help: "Invert the output.")
    var changePolarity = false

    @Flag(name: .customLong("16bit"), help: "16-bit samples (PNG and PNM).")
    var sixteenBit = false

    @Option(help: ArgumentHelp("JPEG quality 1-100.", valueName: "q"))
    var quality = 90

    @Option(help: ArgumentHelp("Fit inside WxH (also Wx or xH), keeping the aspect ratio.", valueName: "WxH"))
    var size: String?

    @Option(help: ArgumentHelp("Scale both dimensions by F.", valueName: "f"))
    var scale: String?

    @Flag(help: "Print the image parameters as JSON (rows, columns, frames, photometric, bits, windows, VOI LUTs, min/max); write no image.")
    var info = false

    func validate() throws {
        if [frame != nil, frames != nil, allFrames].filter({ $0 }).count > 1 {
            throw ValidationError("give one of --frame, --frames, --all-frames")
        }
        if [window != nil, useWindow != nil, useVoiLut != nil, minMaxWindow, noWindowing].filter({ $0 }).count > 1 {
            throw ValidationError("give one of --window, --use-window, --use-voi-lut, --min-max-window, --no-windowing")
        }
        if size != nil && scale != nil { throw ValidationError("give --size or --scale, not both") }
        if arguments.isEmpty { throw ValidationError("missing IN: a file, a SOP Instance UID or -") }
        if output == nil && arguments.count > 2 && !isWritableDirectory(arguments[arguments.count - 1]) {
            throw ValidationError("several inputs need -o OUT (a directory or a template)")
        }
    }

    func run() throws {
        try global.apply()
        var operation = RenderOperation(location: global.location)
        if let output {
            operation.inputs = arguments
            operation.output = output
        } else if arguments.count >= 2 {
            operation.inputs = Array(arguments.dropLast())
            operation.output = arguments.last
        } else {
            operation.inputs = arguments
        }
        if let format {
            guard let f = RenderFormat(name: format) else {
                throw DwcError(.syntax, "--format '\(format)': expected png, jpeg or pnm")
            }
            operation.format = f
        }
        if let frame { operation.frames = .selection(try FrameSelection(parsing: String(frame))) }
        if let frames { operation.frames = .selection(try FrameSelection(parsing: frames)) }
        if allFrames { operation.frames = .all }
        var options = RenderOptions()
        if let window { options.voi = .window(try VOIWindow(parsing: window)) }
        if let useWindow { options.voi = .fileWindow(useWindow) }
        if let useVoiLut { options.voi = .fileVOILUT(useVoiLut) }
        if minMaxWindow { options.voi = .minMax }
        if noWindowing { options.voi = .none }
        options.modality = !noModality
        options.changePolarity = changePolarity
        options.outputBits = sixteenBit ? 16 : 8
        operation.options = options
        operation.quality = quality
        if let size { operation.size = try RenderSize(parsingSize: size) }
        if let scale { operation.size = try RenderSize(parsingScale: scale) }
        operation.info = info
        if !info, operation.output == nil || operation.output == "-", Output.stdoutIsTerminal {
            throw DwcError(.cannotWriteOutput, "refusing to write an image to a terminal; give OUT or redirect stdout")
        }
        let sink = RenderOperation.Sink(write: { Output.write(bytes: $0) }, warning: { Output.warning($0) },
                                        info: { Output.info($0) }, error: { Output.error($0) })
        let result = try operation.run(sink: sink)
        Output.flush()
        if !info { Output.info("\(result.written) image\(result.written == 1 ? "" : "s") written") }
        if let status = result.firstFailure { throw ExitCode(status.rawValue) }
    }
}
