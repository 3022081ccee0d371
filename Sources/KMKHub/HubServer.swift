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
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: HubMiddleware(service: service, metrics: metrics))
        HubRoutes(service: service, metrics: metrics, configuration: configuration).register(on: router)
        let host = configuration.host
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "kmk-sync-hub"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                onListening("http://\(host):\(port)")
            },
            logger: logger
        )
        do {
            try await app.runService()
        } catch {
            await service.close()
            throw error
        }
        await service.close()
        logger.info("hub stopped; store closed")
    }
}
