import DwcKit
#if canImport(Glibc)
import Glibc
#endif

extension InstanceSelection {
    /// The selection the instance commands share: INSTANCE arguments, `--uids-from FILE|-`
    /// (one per line), `--series`, `--study`.
    init(arguments: [String], uidsFrom: String?, series: String?, study: String?) throws {
        self.init()
        inputs = arguments
        if let uidsFrom {
            inputs += try readList(uidsFrom, separator: 10).map { $0.trimmingCharacters(in: " ") }.filter { !$0.isEmpty }
        }
        seriesUID = series
        studyUID = study
    }
}

/// Reads a list of paths from a file or stdin.
func readList(_ path: String, separator: UInt8) throws -> [String] {
    let bytes: [UInt8]
    do {
        bytes = path == "-" ? try readAll(fd: 0) : try readAll(path: path)
    } catch {
        throw DwcError(.cannotReadInput, "\(path): cannot read list: \(error)")
    }
    return bytes.split(separator: separator).map { String(decoding: $0, as: UTF8.self) }.filter { !$0.isEmpty }
}

func readAll(path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw DwcError(.noInput, "\(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    return try readAll(fd: fd)
}

func readAll(fd: Int32) throws -> [UInt8] {
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; throw DwcError(.cannotReadInput, String(cString: strerror(errno))) }
        if n == 0 { return result }
        result += chunk[0..<n]
    }
}
