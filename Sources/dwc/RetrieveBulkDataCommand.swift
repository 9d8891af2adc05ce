@preconcurrency import ArgumentParser
import DwcKit
#if canImport(Glibc)
import Glibc
#endif

struct RetrieveBulkDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrieve-bulkdata",
        abstract: "Write the bytes that BulkDataURIs of dwc metadata or dwc dump name.",
        discussion: """
        URI is file:///PATH?offset=N&length=N, with &inflated=1 for a range of the inflated data \
        set of a deflated file. Only those bytes are read (one read per value up to 8 MiB). The \
        values of several URIs are written one after the other, each exactly LENGTH bytes; with \
        -o DIR (an existing directory) each goes to its own file, DIR/1.bin, DIR/2.bin, … in the \
        order given. Every URI is checked before anything is written. Binary output never goes \
        to a terminal.

        Exit status: 0 ok; 1 malformed URI or bad option; 20 cannot read the file; 21 the file \
        does not exist; 22 the range lies past the end of the file (has it changed?) or \
        inflated=1 names a file that is not deflated; 40 cannot write.
        """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Output file, existing directory (one file per URI), or - (default).", valueName: "file"))
    var output = "-"

    @Argument(help: ArgumentHelp("BulkDataURIs.", valueName: "uri"))
    var uris: [String]

    func run() throws {
        try global.apply()
        var operation = BulkDataOperation(uris: uris)
        if output == "-" {
            guard !Output.stdoutIsTerminal else {
                throw DwcError(.cannotWriteOutput, "refusing to write binary data to a terminal; redirect stdout or use -o FILE")
            }
            try operation.run { Output.write(bytes: $0) }
            Output.flush()
            return
        }
        var info = stat()
        if stat(output, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            guard access(output, W_OK) == 0 else { throw DwcError(.badOutputDirectory, "\(output): not a writable directory") }
            operation.output = .directory(output)
            try operation.run { _ in }
            return
        }
        operation.output = .file(output)
        try operation.run { _ in }
    }
}
