// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "dwc",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dwc", targets: ["dwc"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C libraries, one shim each; only one Swift target imports each shim.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSQLite3", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),

        // Tags, VRs, dictionary, UIDs, values, data sets, character sets, DICOM JSON. No C.
        .target(name: "DicomCore"),
        // Part 10 reader and writer over a ByteSource. No C: inflation is injected.
        .target(name: "DicomParser", dependencies: ["DicomCore"]),
        // zlib raw inflate/deflate for the Deflated Explicit VR Little Endian syntax.
        .target(name: "DicomDeflate", dependencies: ["DicomParser", "CZlib"]),
        // The SQLite index: schema, writer, QIDO-RS queries (the only importer of CSQLite3).
        .target(name: "DicomIndex", dependencies: ["DicomCore", "DicomParser", "CSQLite3"]),
        // Operations behind the commands: typed options in, typed results out.
        .target(name: "DwcKit", dependencies: ["DicomCore", "DicomParser", "DicomDeflate", "DicomIndex"]),
        .executableTarget(name: "dwc", dependencies: [
            "DwcKit",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "DicomCoreTests", dependencies: ["DicomCore"]),
        .testTarget(name: "DicomParserTests", dependencies: ["DicomCore", "DicomParser", "DicomDeflate"]),
        .testTarget(name: "DicomIndexTests", dependencies: ["DicomCore", "DicomParser", "DicomIndex"]),
        .testTarget(name: "DwcCLITests", dependencies: ["DwcKit", "DicomIndex", "DicomParser", "DicomCore"]),
    ],
    swiftLanguageModes: [.v6]
)
