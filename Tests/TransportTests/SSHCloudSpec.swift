import FleetCore

/// A cloud.yaml of the ssh provider (host runtime) whose `ssh:` block is `ssh`, lines indented by
/// two spaces: the runners of the ssh_config and address tests differ only there.
func sshCloudSpec(_ ssh: String) throws -> CloudSpec {
    try CloudSpec.parse(
        text: """
            repo:
              url: https://github.com/example/app.git
            provider: ssh
            ssh:
            \(ssh)
              runtime: host
            """, path: "/tmp/cloud.yaml")
}
