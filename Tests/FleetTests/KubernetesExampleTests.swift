import BenchSupport
import Fleet
import Foundation
import TestSupport
import Testing

@testable import FleetCore

/// examples/kubernetes: the manifests parse, follow a small closed schema (so a misspelt field is
/// caught here rather than silently ignored by a lenient apply), and agree with each other and
/// with the fleet file they ship. No cluster needed.
@Suite("Kubernetes example")
struct KubernetesExampleTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/kubernetes").path

    static func documents(_ name: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
        var composer = YAMLComposer(path: name, code: .invalidSpec, reading: .pyYAML)
        return try composer.compose(text, single: false).map { document in
            guard let object = document.plainValue as? [String: Any] else {
                throw SchemaError(path: name, problem: "document is not a mapping")
            }
            return object
        }
    }

    // MARK: a small schema

    struct SchemaError: Error, CustomStringConvertible {
        var path: String
        var problem: String
        var description: String { "\(path): \(problem)" }
    }

    /// What a value must be. `object` lists every allowed key (closed) and which are required.
    indirect enum Schema: Sendable {
        case string
        case int
        case bool
        case any
        case literal(String)
        /// One of a closed set of strings (the API's enums, which kubernetes-validate does not check).
        case oneOf([String])
        case list(Schema)
        case object(required: [String: Schema], optional: [String: Schema])
        case map(Schema)

        func check(_ value: Any?, at path: String) throws {
            guard let value else { throw SchemaError(path: path, problem: "missing") }
            switch self {
            case .any: return
            case .string:
                guard value is String else {
                    throw SchemaError(path: path, problem: "expected a string, got \(value)")
                }
            case .int:
                guard value is Int else {
                    throw SchemaError(path: path, problem: "expected an integer, got \(value)")
                }
            case .bool:
                guard value is Bool else {
                    throw SchemaError(path: path, problem: "expected a boolean, got \(value)")
                }
            case .literal(let expected):
                guard value as? String == expected else {
                    throw SchemaError(path: path, problem: "expected \(expected), got \(value)")
                }
            case .oneOf(let allowed):
                guard let text = value as? String, allowed.contains(text) else {
                    throw SchemaError(path: path, problem: "expected one of \(allowed), got \(value)")
                }
            case .list(let item):
                guard let list = value as? [Any] else {
                    throw SchemaError(path: path, problem: "expected a list")
                }
                for (index, element) in list.enumerated() { try item.check(element, at: "\(path)[\(index)]") }
            case .map(let item):
                guard let map = value as? [String: Any] else {
                    throw SchemaError(path: path, problem: "expected a mapping")
                }
                for (key, element) in map { try item.check(element, at: "\(path).\(key)") }
            case .object(let required, let optional):
                guard let map = value as? [String: Any] else {
                    throw SchemaError(path: path, problem: "expected a mapping")
                }
                for (key, schema) in required { try schema.check(map[key], at: "\(path).\(key)") }
                for (key, element) in map {
                    guard let schema = required[key] ?? optional[key] else {
                        throw SchemaError(path: "\(path).\(key)", problem: "unknown field")
                    }
                    try schema.check(element, at: "\(path).\(key)")
                }
            }
        }
    }

    static let metadata = Schema.object(
        required: ["name": .string],
        optional: ["labels": .map(.string), "namespace": .string, "annotations": .map(.string)])

    static let container = Schema.object(
        required: ["name": .string, "image": .string],
        optional: [
            "args": .list(.string), "command": .list(.string),
            "env": .list(
                .object(required: ["name": .string], optional: ["value": .string, "valueFrom": .any])),
            "envFrom": .list(
                .object(
                    required: [:],
                    optional: [
                        "secretRef": .object(required: ["name": .string], optional: ["optional": .bool]),
                        "configMapRef": .object(required: ["name": .string], optional: ["optional": .bool]),
                    ])),
            "volumeMounts": .list(
                .object(
                    required: ["name": .string, "mountPath": .string],
                    optional: ["readOnly": .bool, "subPath": .string, "subPathExpr": .string])),
            "resources": .object(required: [:], optional: ["requests": .map(.any), "limits": .map(.any)]),
            "securityContext": .map(.any), "imagePullPolicy": .string, "workingDir": .string,
        ])

    static let podSpec = Schema.object(
        required: ["containers": .list(container), "restartPolicy": .string],
        optional: [
            "volumes": .list(
                .object(
                    required: ["name": .string],
                    optional: [
                        "configMap": .object(
                            required: ["name": .string], optional: ["defaultMode": .int, "items": .any]),
                        "secret": .object(
                            required: ["secretName": .string], optional: ["defaultMode": .int, "items": .any]),
                        "emptyDir": .map(.any),
                        "persistentVolumeClaim": .object(
                            required: ["claimName": .string], optional: ["readOnly": .bool]),
                    ])),
            "securityContext": .map(.any), "serviceAccountName": .string, "nodeSelector": .map(.string),
            "tolerations": .any, "imagePullSecrets": .any, "automountServiceAccountToken": .bool,
        ])

    /// A Job's podFailurePolicy (batch/v1), with its enums.
    static let podFailurePolicy = Schema.object(
        required: [
            "rules": .list(
                .object(
                    required: ["action": .oneOf(["FailJob", "FailIndex", "Ignore", "Count"])],
                    optional: [
                        "onExitCodes": .object(
                            required: ["operator": .oneOf(["In", "NotIn"]), "values": .list(.int)],
                            optional: ["containerName": .string]),
                        "onPodConditions": .list(
                            .object(
                                required: ["type": .string, "status": .oneOf(["True", "False", "Unknown"])],
                                optional: [:])),
                    ]))
        ], optional: [:])

    static let cronJob = Schema.object(
        required: [
            "apiVersion": .literal("batch/v1"), "kind": .literal("CronJob"), "metadata": metadata,
            "spec": .object(
                required: [
                    "schedule": .string, "concurrencyPolicy": .string,
                    "jobTemplate": .object(
                        required: [
                            "spec": .object(
                                required: [
                                    "completionMode": .string, "completions": .int, "parallelism": .int,
                                    "template": .object(
                                        required: ["spec": podSpec], optional: ["metadata": .any]),
                                ],
                                optional: [
                                    "backoffLimit": .int, "backoffLimitPerIndex": .int,
                                    "maxFailedIndexes": .int, "podFailurePolicy": podFailurePolicy,
                                    "activeDeadlineSeconds": .int,
                                    "ttlSecondsAfterFinished": .int,
                                ])
                        ], optional: ["metadata": .any]),
                ],
                optional: [
                    "startingDeadlineSeconds": .int, "successfulJobsHistoryLimit": .int,
                    "failedJobsHistoryLimit": .int, "suspend": .bool, "timeZone": .string,
                ]),
        ], optional: [:])

    static let configMap = Schema.object(
        required: [
            "apiVersion": .literal("v1"), "kind": .literal("ConfigMap"), "metadata": metadata,
            "data": .map(.string),
        ], optional: [:])

    static let secret = Schema.object(
        required: ["apiVersion": .literal("v1"), "kind": .literal("Secret"), "metadata": metadata],
        optional: ["type": .string, "stringData": .map(.string), "data": .map(.string)])

    // MARK: tests

    @Test func schemaCatchesMisspeltFields() throws {
        var job = try #require(try Self.documents("cronjob.yaml").first)
        var spec = try #require(job["spec"] as? [String: Any])
        spec["concurrencypolicy"] = "Forbid"
        job["spec"] = spec
        #expect(throws: SchemaError.self) { try Self.cronJob.check(job, at: "cronjob") }
    }

    @Test func cronJobIsIndexedForbidsOverlapAndShardsConsistently() throws {
        let documents = try Self.documents("cronjob.yaml")
        #expect(documents.count == 1)
        let job = try #require(documents.first)
        try Self.cronJob.check(job, at: "cronjob.yaml")

        let spec = try #require(job["spec"] as? [String: Any])
        #expect(spec["concurrencyPolicy"] as? String == "Forbid")
        let jobSpec = try #require((spec["jobTemplate"] as? [String: Any])?["spec"] as? [String: Any])
        #expect(jobSpec["completionMode"] as? String == "Indexed")
        let shards = try #require(jobSpec["completions"] as? Int)
        #expect(shards > 1)
        #expect(jobSpec["parallelism"] as? Int == shards)

        let pod = try #require((jobSpec["template"] as? [String: Any])?["spec"] as? [String: Any])
        #expect(pod["restartPolicy"] as? String == "Never")
        let containers = try #require(pod["containers"] as? [[String: Any]])
        #expect(containers.count == 1)
        let container = try #require(containers.first)
        let args = try #require(container["args"] as? [String])
        #expect(args.prefix(2) == ["tick", "--all"])
        let shardIndex = try #require(args.firstIndex(of: "--shard"))
        try #require(shardIndex + 1 < args.count)
        #expect(args[shardIndex + 1] == "$(JOB_COMPLETION_INDEX)/\(shards)")
        // Every index the Job creates is a valid shard.
        for index in 0..<shards {
            let text = args[shardIndex + 1].replacingOccurrences(
                of: "$(JOB_COMPLETION_INDEX)", with: String(index))
            #expect(throws: Never.self) { try FleetSelection.Shard(parsing: text) }
        }

        let env = try #require(container["env"] as? [[String: Any]])
        var variables: [String: String] = [:]
        for entry in env { variables[entry["name"] as? String ?? ""] = entry["value"] as? String }
        let fleetPath = try #require(variables["MEGAPLAN_FLEET"])
        let knownHosts = try #require(variables["MEGAPLAN_FLEET_KNOWN_HOSTS"])
        #expect(variables["HOME"] != nil)

        // The fleet file comes from the ConfigMap, known_hosts from the Secret.
        let volumes = try #require(pod["volumes"] as? [[String: Any]])
        let mounts = try #require(container["volumeMounts"] as? [[String: Any]])
        func mountPath(source: String, name: String) -> String? {
            guard
                let volume = volumes.first(where: {
                    let inner = $0[source] as? [String: Any]
                    return inner?["name"] as? String == name || inner?["secretName"] as? String == name
                }),
                let mount = mounts.first(where: { $0["name"] as? String == volume["name"] as? String })
            else { return nil }
            #expect(mount["readOnly"] as? Bool == true)
            return mount["mountPath"] as? String
        }
        let configMap = try #require(try Self.documents("configmap.yaml").first)
        let configMapName = try #require((configMap["metadata"] as? [String: Any])?["name"] as? String)
        let secrets = try Self.documents("secret.yaml")
        let sshSecret = try #require(secrets.first)
        let secretName = try #require((sshSecret["metadata"] as? [String: Any])?["name"] as? String)
        let configMount = try #require(mountPath(source: "configMap", name: configMapName))
        let secretMount = try #require(mountPath(source: "secret", name: secretName))
        #expect(PosixPath.dirname(fleetPath) == configMount)
        let configData = try #require(configMap["data"] as? [String: String])
        #expect(configData[PosixPath.basename(fleetPath)] != nil)
        #expect(PosixPath.dirname(knownHosts) == secretMount)
        let secretData = try #require(sshSecret["stringData"] as? [String: String])
        #expect(secretData[PosixPath.basename(knownHosts)] != nil)
    }

    /// Each shard keeps its own state directory on the claim across runs: the mount's sub-path is
    /// the completion index, and the state directory variable names that mount.
    @Test func everyShardKeepsItsOwnStateOnTheClaim() throws {
        let job = try #require(try Self.documents("cronjob.yaml").first)
        let pod = try #require(
            ((((job["spec"] as? [String: Any])?["jobTemplate"] as? [String: Any])?["spec"] as? [String: Any])?[
                "template"] as? [String: Any])?["spec"] as? [String: Any])
        let container = try #require((pod["containers"] as? [[String: Any]])?.first)
        let env = try #require(container["env"] as? [[String: Any]])
        let statePath = try #require(
            env.first { $0["name"] as? String == StateDirectory.environmentVariable }?["value"] as? String)
        let shardVariable = try #require(
            env.first {
                (($0["valueFrom"] as? [String: Any])?["fieldRef"] as? [String: Any])?["fieldPath"] as? String
                    == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
            }?["name"] as? String)
        let mount = try #require(
            (container["volumeMounts"] as? [[String: Any]])?.first { $0["mountPath"] as? String == statePath }
        )
        #expect(mount["subPathExpr"] as? String == "shard-$(\(shardVariable))")
        #expect(mount["readOnly"] == nil)
        let volume = try #require(
            (pod["volumes"] as? [[String: Any]])?.first { $0["name"] as? String == mount["name"] as? String })
        let claimName = try #require(
            (volume["persistentVolumeClaim"] as? [String: Any])?["claimName"] as? String)
        let claim = try #require(try Self.documents("state.yaml").first)
        #expect((claim["metadata"] as? [String: Any])?["name"] as? String == claimName)
        #expect((claim["spec"] as? [String: Any])?["accessModes"] as? [String] == ["ReadWriteMany"])
    }

    /// Every manifest against the Kubernetes API's own schema (kubernetes-validate, strict: an
    /// unknown field fails), installed by `scripts/install-deps.sh --tests`.
    /// 1.33: the first release where backoffLimitPerIndex and podFailurePolicy are GA.
    @Test func manifestsPassTheKubernetesSchema() async throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.directory).filter {
            $0.hasSuffix(".yaml")
        }
        #expect(
            Set(names) == ["cronjob.yaml", "configmap.yaml", "secret.yaml", "state.yaml", "metrics.yaml"])
        for name in names {
            let path = ShellQuote.quote(Self.directory + "/" + name)
            let output = try await onOwnThread {
                try BenchProcess.run([
                    "/bin/sh", "-c",
                    "python3 -m kubernetes_validate -k 1.33.0 --strict --quiet \(path) 2>&1; echo \"exit=$?\"",
                ])
            }
            #expect(output.hasSuffix("exit=0\n"), "\(name): \(output)")
        }
    }

    @Test func configMapShipsAValidFleetThatFillsEveryShard() throws {
        let configMap = try #require(try Self.documents("configmap.yaml").first)
        try Self.configMap.check(configMap, at: "configmap.yaml")
        let data = try #require(configMap["data"] as? [String: String])
        let directory = try FleetDirectory()
        for (name, text) in data {
            #expect(!name.contains("/"))
            try FileSystem.writeAtomically(directory.path + "/" + name, text: text)
        }
        let fleet = try FleetFile.load(path: directory.path + "/fleet.yaml")
        #expect(fleet.projects.count >= 4)
        #expect(throws: Never.self) { try fleet.checkDistinctRunners(fleet.loadClouds()) }
        let secretMount = "/etc/megaplan-fleet/ssh"
        for project in fleet.projects {
            let spec = try CloudSpec.load(path: project.cloudYAML)
            #expect(spec.provider == .ssh)
            #expect(spec.ssh?.identityFile?.hasPrefix(secretMount + "/") == true, "\(project.name)")
        }
        // No pod of the example has an empty shard (it would exit 2 every time).
        let job = try #require(try Self.documents("cronjob.yaml").first)
        let shards = try #require(
            (((job["spec"] as? [String: Any])?["jobTemplate"] as? [String: Any])?["spec"] as? [String: Any])?[
                "completions"] as? Int)
        for index in 0..<shards {
            let selected = try FleetSelection(shard: try .init(index: index, count: shards)).apply(to: fleet)
            #expect(!selected.isEmpty, "shard \(index)/\(shards) is empty")
        }
    }

    @Test func secretIsATemplateWithoutKeys() throws {
        let documents = try Self.documents("secret.yaml")
        #expect(!documents.isEmpty)
        for document in documents {
            try Self.secret.check(document, at: "secret.yaml")
            let values =
                Array((document["stringData"] as? [String: String] ?? [:]).values)
                + Array((document["data"] as? [String: String] ?? [:]).values)
            for value in values {
                #expect(!value.contains("PRIVATE KEY"))
                #expect(value.contains("REPLACE"), "\(value)")
            }
        }
        let ssh = try #require(documents.first?["stringData"] as? [String: String])
        #expect(Set(ssh.keys) == ["id_ed25519", "known_hosts"])
    }

    // MARK: failures, lock-down, metrics

    /// The Job's spec, its pod's spec and the tick container of cronjob.yaml.
    static func tickJob() throws -> (job: [String: Any], pod: [String: Any], container: [String: Any]) {
        let cronJob = try #require(try documents("cronjob.yaml").first)
        let job = try #require(
            ((cronJob["spec"] as? [String: Any])?["jobTemplate"] as? [String: Any])?["spec"] as? [String: Any]
        )
        let pod = try #require((job["template"] as? [String: Any])?["spec"] as? [String: Any])
        let container = try #require((pod["containers"] as? [[String: Any]])?.first)
        return (job, pod, container)
    }

    /// The podFailurePolicy evaluated as the Job controller does (the first rule that matches a
    /// failed pod decides; none matching means `Count`): exit 1 (project errors) and 75 (the
    /// fleet lock held) end that shard's index without a retry and leave the other shards
    /// running; 2 (invalid fleet) stops the Job; a crash is counted against the per-index retry;
    /// an eviction is retried without counting. No Job-wide backoffLimit can fail every shard.
    @Test func failurePolicyKeepsAShardsProjectErrorsToThatShard() throws {
        let (job, _, container) = try Self.tickJob()
        #expect(job["backoffLimit"] == nil)
        #expect(job["maxFailedIndexes"] == nil)
        let perIndex = try #require(job["backoffLimitPerIndex"] as? Int)
        #expect(perIndex >= 1, "a crashed shard is retried")
        let policy = try #require(job["podFailurePolicy"] as? [String: Any])
        try Self.podFailurePolicy.check(policy, at: "podFailurePolicy")
        let rules = try #require(policy["rules"] as? [[String: Any]])
        let name = try #require(container["name"] as? String)

        func action(exitCode: Int? = nil, condition: String? = nil) -> String {
            for rule in rules {
                if let exits = rule["onExitCodes"] as? [String: Any], let exitCode {
                    let named = exits["containerName"] as? String
                    guard named == nil || named == name else { continue }
                    let values = exits["values"] as? [Int] ?? []
                    let matches = (exits["operator"] as? String == "In") == values.contains(exitCode)
                    if matches { return rule["action"] as? String ?? "" }
                }
                if let conditions = rule["onPodConditions"] as? [[String: Any]], let condition,
                    conditions.contains(where: {
                        $0["type"] as? String == condition && $0["status"] as? String == "True"
                    })
                {
                    return rule["action"] as? String ?? ""
                }
            }
            return "Count"
        }
        #expect(action(exitCode: 1) == "FailIndex")
        #expect(action(exitCode: 75) == "FailIndex")
        #expect(action(exitCode: 2) == "FailJob")
        #expect(action(exitCode: 137) == "Count")
        #expect(action(exitCode: 143) == "Count")
        #expect(action(condition: "DisruptionTarget") == "Ignore")
    }

    /// No service account token, the runtime's seccomp profile, a non-root user (the image's
    /// own, from the Dockerfile), no privilege escalation, a read-only root and no capabilities.
    @Test func podIsLockedDown() throws {
        let (_, pod, container) = try Self.tickJob()
        #expect(pod["automountServiceAccountToken"] as? Bool == false)
        let podSecurity = try #require(pod["securityContext"] as? [String: Any])
        #expect((podSecurity["seccompProfile"] as? [String: Any])?["type"] as? String == "RuntimeDefault")
        #expect(podSecurity["runAsNonRoot"] as? Bool == true)
        let user = try #require(podSecurity["runAsUser"] as? Int)
        let dockerfile = try #require(FileSystem.readText(Self.directory + "/../../Dockerfile"))
        #expect(dockerfile.contains("\nUSER \(user):\(podSecurity["runAsGroup"] as? Int ?? -1)\n"))
        let security = try #require(container["securityContext"] as? [String: Any])
        #expect(security["allowPrivilegeEscalation"] as? Bool == false)
        #expect(security["readOnlyRootFilesystem"] as? Bool == true)
        #expect((security["capabilities"] as? [String: Any])?["drop"] as? [String] == ["ALL"])
        // The image's entry point is the tool, so the container gives only its arguments.
        #expect(container["command"] == nil)
        #expect(dockerfile.contains(#"ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/megaplan-fleet"]"#))
    }

    /// Every shard writes its own textfile (the completion index in its name) into the claim's
    /// directory that metrics.yaml's node_exporter reads, read-only, with only the textfile
    /// collector on.
    @Test func everyShardsTextfileReachesTheExporter() throws {
        let (_, pod, container) = try Self.tickJob()
        let args = try #require(container["args"] as? [String])
        let flag = try #require(args.firstIndex(of: "--prom-file"))
        try #require(flag + 1 < args.count)
        let promFile = args[flag + 1]
        #expect(PosixPath.basename(promFile).contains("$(JOB_COMPLETION_INDEX)"))
        let mount = try #require(
            (container["volumeMounts"] as? [[String: Any]])?.first {
                $0["mountPath"] as? String == PosixPath.dirname(promFile)
            })
        #expect(mount["readOnly"] == nil)
        let claim = try #require(
            ((pod["volumes"] as? [[String: Any]])?.first {
                $0["name"] as? String == mount["name"] as? String
            }?[
                "persistentVolumeClaim"] as? [String: Any])?["claimName"] as? String)

        let documents = try Self.documents("metrics.yaml")
        let deployment = try #require(documents.first { $0["kind"] as? String == "Deployment" })
        let service = try #require(documents.first { $0["kind"] as? String == "Service" })
        let exporterPod = try #require(
            ((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
        )
        #expect(exporterPod["automountServiceAccountToken"] as? Bool == false)
        let exporter = try #require((exporterPod["containers"] as? [[String: Any]])?.first)
        let exporterArgs = try #require(exporter["args"] as? [String])
        #expect(exporterArgs.contains("--collector.disable-defaults"))
        #expect(exporterArgs.contains("--collector.textfile"))
        let directory = try #require(
            exporterArgs.first { $0.hasPrefix("--collector.textfile.directory=") }?.split(
                separator: "=", maxSplits: 1
            ).last.map(String.init))
        let exporterMount = try #require(
            (exporter["volumeMounts"] as? [[String: Any]])?.first { $0["mountPath"] as? String == directory })
        #expect(exporterMount["readOnly"] as? Bool == true)
        #expect(exporterMount["subPath"] as? String == mount["subPath"] as? String)
        #expect(mount["subPath"] != nil)
        let exporterClaim =
            ((exporterPod["volumes"] as? [[String: Any]])?.first {
                $0["name"] as? String == exporterMount["name"] as? String
            }?["persistentVolumeClaim"] as? [String: Any])?["claimName"] as? String
        #expect(exporterClaim == claim)
        // The Service selects the exporter's pods.
        let selector = (service["spec"] as? [String: Any])?["selector"] as? [String: String]
        let labels =
            (((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["metadata"]
            as? [String: Any])?["labels"] as? [String: String]
        #expect(selector != nil && selector == labels)
    }
}
