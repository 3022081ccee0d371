import Foundation

/// The package's own directory (the one with Package.swift), found from this source file, for
/// tests that read the fixtures, SPEC.md, openapi.yaml or contrib/.
package enum PackageDirectory {
    package static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A file or folder in the package, by its path from the root (`Fixtures/layout2`).
    package static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }
}
