# Values the import cannot write as they are: each is listed, none written,
# and what is written still validates.
Vagrant.configure("2") do |config|
  config.vm.box = "debian/bookworm64"
  config.vm.box_version = "4.3.2
1"
  config.ssh.username = "-oProxyCommand=touch /tmp/x"
  config.vm.hostname = "not_a host"
end
