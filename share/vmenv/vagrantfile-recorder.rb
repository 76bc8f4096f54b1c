# vmenv import: a stand-in for Vagrant's configuration API that records what a
# Vagrantfile sets, so 'vmenv import --ruby' can turn loops and variables into
# vmenv.yaml. It runs the Vagrantfile (that is the point of --ruby), so vmenv
# starts it in a sandbox; this file itself opens no network and writes only
# the record file named on its command line.
#
# usage: ruby vagrantfile-recorder.rb COPY_OF_VAGRANTFILE REAL_PATH RECORD_OUT
require "json"

module VmenvRecorder
  # Every call lands here; values are kept as JSON-able data.
  class Log
    attr_reader :events

    def initialize(path)
      @path = path
      @events = []
    end

    def line
      loc = caller_locations.find { |l| l.path == @path }
      loc ? loc.lineno : 0
    end

    def add(scope, kind, fields)
      ev = { "kind" => kind, "line" => line }
      ev["scope"] = scope[:machine] if scope[:machine]
      ev["override"] = scope[:override] if scope[:override]
      @events << ev.merge(fields)
      nil
    end

    def self.data(v, depth = 0)
      return nil if depth > 16
      case v
      when String then v.dup.force_encoding("UTF-8").scrub("?")
      when Symbol then v.to_s
      when Integer, Float, TrueClass, FalseClass, NilClass then v
      when Array then v.map { |x| data(x, depth + 1) }
      when Hash then v.each_with_object({}) { |(k, x), h| h[k.to_s] = data(x, depth + 1) }
      when Unknown then nil
      when Range then v.to_a.first(256).map { |x| data(x, depth + 1) }
      else v.to_s
      end
    end
  end

  # What an unknown call returns: it absorbs further calls without running
  # their blocks, so plugins and triggers are listed, not executed.
  class Unknown < BasicObject
    # event: the note this chain already made; a longer chain updates it
    # (config.trigger.after is one note, not two).
    def initialize(log, scope, what, event = nil)
      @log, @scope, @what, @event = log, scope, what, event
    end

    def method_missing(name, *args, **kw, &blk)
      what = "#{@what}.#{name.to_s.chomp('=')}"
      if @event
        @event["what"] = what
      else
        @log.add(@scope, "unsupported", { "what" => what })
        @event = @log.events.last
      end
      Unknown.new(@log, @scope, what, @event)
    end

    def respond_to_missing?(*) = true
    def to_s = ""
    def to_str = ""
    def to_a = []
    def to_ary = []
    def to_i = 0
    def nil? = true
    def ! = true
    def ==(other) = other.nil?
  end

  # A provider block (|lv|, |vb|): every setting is recorded; vmenv decides.
  class Provider < BasicObject
    def initialize(log, scope, name)
      @log, @scope, @name = log, scope, name
    end

    def method_missing(name, *args, **kw, &blk)
      key = name.to_s
      value = args.length == 1 ? args[0] : args
      value = kw if args.empty? && !kw.empty?
      @log.add(@scope, "provider", { "provider" => @name, "key" => key.sub(/=$/, ""),
                                     "value" => Log.data(value) })
      Unknown.new(@log, @scope, "#{@name}.#{key}")
    end

    def respond_to_missing?(*) = true
  end

  # The |s| of `config.vm.provision "shell" do |s|`: collects its options.
  class ProvisionOptions < BasicObject
    def initialize(opts)
      @opts = opts
    end

    def method_missing(name, *args, **kw, &blk)
      key = name.to_s
      if key.end_with?("=")
        @opts[key.chomp("=")] = Log.data(args[0])
      else
        @opts[key] = Log.data(args.length == 1 ? args[0] : args)
      end
      nil
    end

    def respond_to_missing?(*) = true
  end

  class VM
    SIMPLE = %w[box box_version box_url hostname boot_timeout].freeze

    def initialize(log, scope)
      @log, @scope = log, scope
    end

    def method_missing(name, *args, **kw, &blk)
      key = name.to_s
      if key.end_with?("=") && SIMPLE.include?(key.chomp("="))
        return @log.add(@scope, "set", { "key" => key.chomp("="), "value" => Log.data(args[0]) })
      end
      @log.add(@scope, "unsupported", { "what" => "vm.#{key.chomp('=')}" })
      Unknown.new(@log, @scope, "vm.#{key}")
    end

    def respond_to_missing?(*) = true

    # A trailing hash given as a plain argument counts as options too.
    def self.options(rest, opts)
      rest.last.is_a?(::Hash) ? rest.last.merge(opts) : opts
    end

    def network(type, *rest, **opts)
      opts = VM.options(rest, opts)
      @log.add(@scope, "network", { "type" => type.to_s, "options" => Log.data(opts) })
    end

    def synced_folder(host, guest, *rest, **opts)
      opts = VM.options(rest, opts)
      @log.add(@scope, "synced_folder", { "host" => Log.data(host), "guest" => Log.data(guest),
                                          "options" => Log.data(opts) })
    end

    def provider(name, *_rest, &blk)
      @log.add(@scope, "provider", { "provider" => name.to_s, "key" => "", "value" => nil })
      return unless blk
      override = Config.new(@log, @scope.merge(override: name.to_s))
      blk.call(Provider.new(@log, @scope, name.to_s), override)
    end

    def provision(first, *rest, **opts, &blk)
      opts = Log.data(VM.options(rest, opts))
      type = opts.delete("type") || first.to_s
      name = opts.key?("type") || type != first.to_s ? first.to_s : nil
      blk&.call(ProvisionOptions.new(opts))
      name = opts.delete("name") || name
      @log.add(@scope, "provision", { "type" => type.to_s, "name" => name, "options" => opts })
    end

    def define(name, *rest, **opts, &blk)
      opts = VM.options(rest, opts)
      @log.add(@scope, "define", { "name" => name.to_s, "options" => Log.data(opts) })
      blk&.call(Config.new(@log, { machine: name.to_s }))
    end
  end

  class SSH
    def initialize(log, scope)
      @log, @scope = log, scope
    end

    def username=(v)
      @log.add(@scope, "set", { "key" => "ssh.username", "value" => Log.data(v) })
    end

    def method_missing(name, *args, **kw, &blk)
      @log.add(@scope, "unsupported", { "what" => "ssh.#{name.to_s.chomp('=')}" })
      Unknown.new(@log, @scope, "ssh.#{name}")
    end

    def respond_to_missing?(*) = true
  end

  class Config
    attr_reader :vm, :ssh

    def initialize(log, scope)
      @log, @scope = log, scope
      @vm = VM.new(log, scope)
      @ssh = SSH.new(log, scope)
    end

    def method_missing(name, *args, **kw, &blk)
      what = name.to_s.chomp("=")
      # config.vbguest alone says nothing yet: the call on it is noted
      return Unknown.new(@log, @scope, what) if args.empty? && kw.empty? && !blk
      @log.add(@scope, "unsupported", { "what" => what })
      Unknown.new(@log, @scope, what, @log.events.last)
    end

    def respond_to_missing?(*) = true
  end
end

copy, real_path, out = ARGV
LOG = VmenvRecorder::Log.new(real_path)

module Vagrant
  VERSION = "2.3.7"

  def self.configure(_version = "2")
    yield VmenvRecorder::Config.new(LOG, {})
  end

  # Answered yes, so that `raise unless has_plugin?` passes, `install
  # unless has_plugin?` installs nothing, and the plugin's settings are
  # recorded (as not expressible).
  def self.has_plugin?(name, *_args)
    LOG.add({}, "unsupported", { "what" => "plugin #{name}" })
    true
  end

  def self.require_version(*_args)
    LOG.add({}, "unsupported", { "what" => "Vagrant.require_version" })
  end

  def self.method_missing(name, *_args, &_blk)
    LOG.add({}, "unsupported", { "what" => "Vagrant.#{name}" })
    VmenvRecorder::Unknown.new(LOG, {}, "Vagrant.#{name}")
  end

  def self.respond_to_missing?(*) = true

  def self.const_missing(_name) = VmenvRecorder::Unknown.new(LOG, {}, "Vagrant")

  module Util
    module Platform
      def self.windows? = false
      def self.darwin? = false
      def self.linux? = true
    end
  end
end

# A plugin the Vagrantfile requires is listed, not loaded.
module Kernel
  alias_method :vmenv_original_require, :require

  def require(name)
    vmenv_original_require(name)
  rescue LoadError
    LOG.add({}, "unsupported", { "what" => "require #{name}" })
    false
  end
end

# Commands a Vagrantfile starts (plugin installers, git) are listed, not
# run. This is a courtesy, not the sandbox: Ruby has other ways to run them.
module Kernel
  def system(*args, **_kw)
    LOG.add({}, "unsupported", { "what" => "runs a host command (not run): #{args.first.to_s[0, 60]}" })
    false
  end

  def `(cmd)
    LOG.add({}, "unsupported", { "what" => "runs a host command (not run): #{cmd.to_s[0, 60]}" })
    ""
  end

  def spawn(*args, **_kw)
    LOG.add({}, "unsupported", { "what" => "runs a host command (not run): #{args.first.to_s[0, 60]}" })
    0
  end

  def exec(*args, **_kw)
    LOG.add({}, "unsupported", { "what" => "runs a host command (not run): #{args.first.to_s[0, 60]}" })
    nil
  end
  module_function :system, :`, :spawn, :exec
  public :system, :`, :spawn, :exec
end

# The Vagrantfile's own output must not mix with the record.
$stdout = $stderr
result = { "events" => LOG.events }
begin
  eval(File.read(copy), TOPLEVEL_BINDING.dup, real_path, 1) # rubocop:disable Security/Eval
rescue Exception => e # rubocop:disable Lint/RescueException
  loc = e.backtrace_locations&.find { |l| l.path == real_path }
  loc ||= e.backtrace&.grep(/\A#{Regexp.escape(real_path)}:\d+/)&.first
  line = loc.respond_to?(:lineno) ? loc.lineno : loc.to_s[/:(\d+)/, 1].to_i
  result["error"] = { "line" => line, "message" => "#{e.class}: #{e.message}"[0, 500] }
end
File.write(out, JSON.generate(result))
