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
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        // Already in the graph through Hummingbird; named so the hub can import ByteBuffer and HTTP field names.
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-http-types", exact: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
    ],
    targets: [
        // The system SQLite (Debian: libsqlite3-dev), reached through a shim header.
        .systemLibrary(
            name: "CSQLite",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        // The system zlib (Debian: zlib1g-dev), for gzip bodies on the wire.
        .systemLibrary(
            name: "CZlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        // Pure domain: schema, values, clocks, municipalities, compliance rules. No I/O, no dependencies.
        .target(name: "KMKModel"),
        // Pure sync logic: changes, merge rules, ledger, wire and bundle formats.
        .target(name: "KMKSync", dependencies: ["KMKModel", "CZlib"]),
        // The SQLite replica file: storage, change capture, apply.
        .target(name: "KMKReplica", dependencies: ["KMKModel", "KMKSync", "CSQLite"]),
        // The national hub: HTTP server (Hummingbird) over a hub store kept by KMKReplica.
        .target(
            name: "KMKHub",
            dependencies: [
                "KMKModel", "KMKSync", "KMKReplica",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        // The replica's side of the hub protocol: HTTP client, push/pull/sync, the replica lock.
        .target(
            name: "KMKClient",
            dependencies: [
                "KMKModel", "KMKSync", "KMKReplica",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The performance benchmark (`kmk-sync bench`): our figures against plain SQLite baselines.
        .target(
            name: "KMKBench",
            dependencies: ["KMKModel", "KMKSync", "KMKReplica", "KMKHub", "KMKClient", "CSQLite",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // The command-line tool: parse, call a library, print.
        .executableTarget(
            name: "kmk-sync",
            dependencies: [
                "KMKModel", "KMKSync", "KMKReplica", "KMKHub", "KMKClient", "KMKBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Shared by the test targets: a seeded generator, a hand-moved clock, random edits.
        .target(name: "KMKTestSupport", dependencies: ["KMKModel", "KMKReplica"], path: "Tests/KMKTestSupport"),
        .testTarget(name: "KMKModelTests", dependencies: ["KMKModel", "KMKTestSupport"]),
        .testTarget(name: "KMKSyncTests", dependencies: ["KMKSync", "KMKModel", "KMKTestSupport"]),
        .testTarget(name: "KMKReplicaTests", dependencies: ["KMKReplica", "KMKSync", "KMKModel", "CSQLite", "KMKTestSupport"]),
        .testTarget(name: "KMKHubTests", dependencies: ["KMKHub", "KMKClient", "KMKReplica", "KMKSync", "KMKModel", "KMKTestSupport"]),
        .testTarget(name: "KMKBenchTests", dependencies: ["KMKBench", "KMKTestSupport", "kmk-sync"]),
        .testTarget(name: "CLITests", dependencies: ["KMKModel", "KMKSync", "KMKTestSupport", "kmk-sync"]),
    ]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
