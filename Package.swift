// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "kmk-sync",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kmk-sync", targets: ["kmk-sync"]),
        .library(name: "KMKModel", targets: ["KMKModel"]),
        .library(name: "KMKSync", targets: ["KMKSync"]),
        .library(name: "KMKReplica", targets: ["KMKReplica"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    ],
    targets: [
        // The system SQLite (Debian: libsqlite3-dev), reached through a shim header.
        .systemLibrary(
            name: "CSQLite",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        // Pure domain: schema, values, clocks, municipalities, compliance rules. No I/O, no dependencies.
        .target(name: "KMKModel"),
        // Pure sync logic: changes, merge rules, ledger, wire and bundle formats.
        .target(name: "KMKSync", dependencies: ["KMKModel"]),
        // The SQLite replica file: storage, change capture, apply.
        .target(name: "KMKReplica", dependencies: ["KMKModel", "KMKSync", "CSQLite"]),
        // The command-line tool: parse, call a library, print.
        .executableTarget(
            name: "kmk-sync",
            dependencies: [
                "KMKModel", "KMKSync", "KMKReplica",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "KMKModelTests", dependencies: ["KMKModel"]),
        .testTarget(name: "KMKSyncTests", dependencies: ["KMKSync", "KMKModel"]),
        .testTarget(name: "KMKReplicaTests", dependencies: ["KMKReplica", "KMKSync", "KMKModel", "CSQLite"]),
        .testTarget(name: "CLITests", dependencies: ["KMKModel", "kmk-sync"]),
    ]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
