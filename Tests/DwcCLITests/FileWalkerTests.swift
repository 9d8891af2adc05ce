import DwcKit
import Foundation
import Testing

/// The walk's order is part of its contract: files depth first, by name (a duplicate SOP
/// Instance UID keeps the file found first), whichever thread listed a directory.
@Suite struct FileWalkerTests {
    /// A tree of 4 × 5 × 6 directories with files at every level, hidden entries, a symlink
    /// and an empty directory.
    func makeTree() throws -> String {
        let root = NSTemporaryDirectory() + "dwc-walk-\(UUID().uuidString)"
        let fm = FileManager.default
        for a in 0..<4 {
            for b in 0..<5 {
                for c in 0..<6 {
                    let dir = "\(root)/p\(a)/s\(b)/r\(c)"
                    try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
                    for f in 0..<(c % 3) { #expect(fm.createFile(atPath: "\(dir)/f\(f).dcm", contents: Data([UInt8(f)]))) }
                }
                #expect(fm.createFile(atPath: "\(root)/p\(a)/s\(b)/series-note", contents: Data("x".utf8)))
            }
            #expect(fm.createFile(atPath: "\(root)/p\(a)/.hidden", contents: Data("x".utf8)))
        }
        try fm.createDirectory(atPath: "\(root)/.dwc/deep", withIntermediateDirectories: true)
        #expect(fm.createFile(atPath: "\(root)/.dwc/deep/index.sqlite", contents: Data("x".utf8)))
        try fm.createDirectory(atPath: "\(root)/empty", withIntermediateDirectories: true)
        #expect(fm.createFile(atPath: "\(root)/top.dcm", contents: Data("x".utf8)))
        try fm.createSymbolicLink(atPath: "\(root)/link-to-p0", withDestinationPath: "\(root)/p0")
        return root
    }

    /// The expected order, made independently: sorted names, depth first, hidden skipped,
    /// links not followed.
    func expected(_ dir: String) throws -> [String] {
        var result: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() where !name.hasPrefix(".") {
            let path = dir + "/" + name
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            switch attributes[.type] as? FileAttributeType {
            case .typeDirectory?: result += try expected(path)
            case .typeRegular?: result.append(path)
            default: break
            }
        }
        return result
    }

    @Test func walksDepthFirstByNameEveryTime() throws {
        let root = try makeTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let want = try expected(root)
        #expect(want.count == 4 * 5 * (0 + 1 + 2 + 0 + 1 + 2) + 4 * 5 + 1)
        for _ in 0..<5 {
            let (files, problems) = FileWalker().walk([root])
            #expect(problems.isEmpty)
            #expect(files.map(\.path) == want)
        }
        let followed = FileWalker(followSymlinks: true).walk([root]).files.map(\.path)
        // The link comes first by name: p0 is walked through it, and not again by its own name.
        #expect(followed == want.map { $0.replacingOccurrences(of: root + "/p0/", with: root + "/link-to-p0/") })
        let filtered = FileWalker(include: ["*.dcm"], exclude: ["*/p1/*"]).walk([root]).files.map(\.path)
        #expect(filtered == want.filter { $0.hasSuffix(".dcm") && !$0.contains("/p1/") })
    }
}
