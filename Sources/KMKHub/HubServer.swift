import Foundation
import Hummingbird
import KMKReplica
import Logging
import NIOCore

/// Runs the hub until SIGTERM or SIGINT: in-flight requests finish, then the store is closed.
public enum HubServer {
    /// Serves `configuration`; `onListening` gets the bound address (`http://HOST:PORT`).
    public static func run(
        _ configuration: HubConfiguration, logger: Logger, onListening: @escaping @Sendable (String) -> Void
    ) async throws {
        let service = try HubService(path: configuration.databasePath, fault: configuration.fault)
        let metrics = HubMetrics()
        let router = makeRouter(configuration, service: service, metrics: metrics)
        let host = configuration.host
        let app = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(configuration.idleTimeoutSeconds))),
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "kmk-sync-hub"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                onListening("http://\(host):\(port)")
            },
            logger: logger
        )
        // The store's file holds every committed push at most 2 s after it (SPEC.md §11.1).
        let checkpoints = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(2))
                await service.checkpointIfWritten()
            }
        }
        defer { checkpoints.cancel() }
        do {
            try await app.runService()
        } catch {
            checkpoints.cancel()
            await service.close()
            throw error
        }
        checkpoints.cancel()
        await service.close()
        logger.info("hub stopped; store closed")
    }

    static func makeRouter(_ configuration: HubConfiguration, service: HubService, metrics: HubMetrics) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: HubMiddleware(service: service, metrics: metrics))
        HubRoutes(service: service, metrics: metrics, configuration: configuration).register(on: router)
        return router
    }

    /// The routes the hub's router registers, read back from the router itself (a store is
    /// opened, or created, at `configuration.databasePath`). Tests compare them with
    /// `openapi.yaml`.
    package static func registeredRoutes(_ configuration: HubConfiguration) async throws -> [HubRoute] {
        let service = try HubService(path: configuration.databasePath, fault: nil)
        let router = makeRouter(configuration, service: service, metrics: HubMetrics())
        await service.close()
        return router.routes.map { HubRoute($0.method.rawValue, $0.path.description) }
    }
}
