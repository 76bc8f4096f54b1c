/* vmenv import, below the command: the YAML writer keeps every script
 * byte for byte (literal blocks where YAML allows them, quoted strings
 * elsewhere), and the literal parser reads the lexical forms of Ruby that
 * Vagrantfiles use, listing what it does not understand. */
#include <stdlib.h>
#include <string.h>

#include "../../src/core/json-cleanup.h"
#include "../../src/core/vagrant-internal.h"
#include "tap.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/util.h"

/* A record with one shell provisioner whose inline text is s. */
static char *yaml_for_inline(const char *s, vmenv_error *err)
{
        _cleanup_(json_putp) json_object *rec = json_object_new_object();
        json_object *events = json_object_new_array(), *box = json_object_new_object();
        json_object *prov = json_object_new_object(), *opts = json_object_new_object();

        json_object_object_add(box, "kind", json_object_new_string("set"));
        json_object_object_add(box, "key", json_object_new_string("box"));
        json_object_object_add(box, "value", json_object_new_string("b"));
        json_object_object_add(box, "line", json_object_new_int(1));
        json_object_object_add(opts, "inline", json_object_new_string(s));
        json_object_object_add(prov, "kind", json_object_new_string("provision"));
        json_object_object_add(prov, "type", json_object_new_string("shell"));
        json_object_object_add(prov, "options", opts);
        json_object_object_add(prov, "line", json_object_new_int(2));
        json_object_array_add(events, box);
        json_object_array_add(events, prov);
        json_object_object_add(rec, "events", events);
        return vmenv_vagrant_record_to_yaml(rec, "", "Vagrantfile", "test", NULL, NULL, err);
}

static void test_text_round_trip(void)
{
        static const char *const texts[] = {
            "a\nb",
            "a\nb\n",
            "a\n\n\n",
            "  lead\nx",
            "\n\nafter blank",
            "x\n   \ny\n",
            "tab\tin\n\tstart\n",
            "# not a comment\n- no list\n",
            "key: value\n---\n...\n",
            "\"q\"\n'single'\n",
            "trailing   \nnext  \n",
            "crlf\r\nline\r\n",
            "nel\xc2\x85x\n",
            "ls\xe2\x80\xa8x\n",
            "ctrl\x01\nz",
            "",
            "only\n",
            " \n",
            "\n",
            "   \n  \n",
            "caf\xc3\xa9\n\xe2\x98\x83",
            "x: 'y' \"z\" \\ # w",
            "|\n>\n",
            "  \n  indented after blank\n",
            "c1\xc2\x9b\n",
            "nonchar\xef\xbf\xbe\n",
            "bom\xef\xbb\xbfx\n",
        };

        for (size_t i = 0; i < VMENV_ARRAY_SIZE(texts); i++) {
                vmenv_error err = VMENV_ERROR_INIT;
                _cleanup_free_ char *yaml = yaml_for_inline(texts[i], &err);
                struct vmenv_config *c =
                    yaml ? vmenv_config_parse(yaml, strlen(yaml), "t.yaml", &err) : NULL;
                const char *got = c && c->n_machines && c->machines[0].n_provisioners
                                      ? c->machines[0].provisioners[0].inline_text
                                      : NULL;
                if (!ok(got && !strcmp(got, texts[i]), "script %zu survives the YAML round trip",
                        i))
                        printf("# error: %s\n# yaml:\n%s\n", err.msg ? err.msg : "-",
                               yaml ? yaml : "-");
                vmenv_config_free(c);
                vmenv_error_clear(&err);
        }
}

/* The literal parser's vmenv.yaml for text, or the error message. */
static char *literal(const char *text)
{
        vmenv_error err = VMENV_ERROR_INIT;
        _cleanup_(json_putp) json_object *rec = vmenv_vagrantfile_literal(text, strlen(text));
        char *yaml =
            vmenv_vagrant_record_to_yaml(rec, text, "Vagrantfile", "test", NULL, NULL, &err);

        if (!yaml) {
                yaml = vmenv_strdupf("error: %s", err.msg);
                vmenv_error_clear(&err);
        }
        return yaml;
}

static const struct {
        const char *what, *vagrantfile, *want;
} cases[] = {
    {"<<- keeps the indentation",
     "Vagrant.configure(\"2\") do |c|\n c.vm.box = 'b'\n c.vm.provision :shell, inline: <<-S\n"
     "    one\n      two\n    S\nend\n",
     "  - shell: |2\n          one\n            two\n"},
    {"<<~ strips the common indentation",
     "Vagrant.configure(\"2\") do |c|\n c.vm.box = 'b'\n c.vm.provision :shell, inline: <<~S\n"
     "    one\n      two\n    S\nend\n",
     "  - shell: |\n      one\n        two\n"},
    {"<<-'S' keeps backslashes, <<-S reads escapes",
     "V = <<-'S'\na\\nb\nS\nW = <<-S\na\\tb\\\nc\nS\nVagrant.configure(\"2\") do |c|\n c.vm.box = "
     "'b'\n"
     " c.vm.provision :shell, inline: V\n c.vm.provision :shell, inline: W\nend\n",
     "  - shell: |\n      a\\nb\n  - shell: |\n      a\tbc\n"},
    {"interpolation is not understood",
     "Vagrant.configure(\"2\") do |c|\n c.vm.box = 'b'\n c.vm.hostname = \"h#{1}\"\nend\n",
     "#   line 3: c.vm.hostname = \"h#{1}\""},
    {"an interpolated heredoc is not understood",
     "Vagrant.configure(\"2\") do |c|\n c.vm.box = 'b'\n c.vm.provision :shell, inline: <<-S\n"
     "echo #{x}\nS\nend\n",
     "#   lines 3-5: c.vm.provision :shell, inline: <<-S"},
    {"%w lists, => hashes, \"key\": labels, continuation lines",
     "Vagrant.configure(\"2\") do |c|\n c.vm.box = 'b'\n c.vm.synced_folder \".\", \"/s\",\n"
     "   :type => :rsync,\n   \"rsync__exclude\": %w[.git tmp]\nend\n",
     "  - { host: \".\", guest: \"/s\", exclude: [\".git\", \"tmp\"] }"},
    {"; separates statements, =begin comments and __END__ are skipped",
     "=begin\nconfig.vm.box = 'no'\n=end\nVagrant.configure(\"2\") do |c|; c.vm.box = 'b'; "
     "c.vm.hostname = 'h'\nend\n__END__\nc.vm.box = 'x'\n",
     "box: \"b\"\nhostname: \"h\"\n"},
    {"a statement modifier is not understood",
     "Vagrant.configure(\"2\") do |c|\n c.vm.box = 'b'\n c.vm.hostname = 'h' if ENV['X']\nend\n",
     "#   line 3: c.vm.hostname = 'h' if ENV['X']"},
    {"an if block is skipped whole",
     "Vagrant.configure(\"2\") do |c|\n c.vm.box = 'b'\n if x\n  c.vm.box = 'other'\n else\n"
     "  c.vm.box = 'third'\n end\nend\n",
     "#   lines 3-7: if x\n\nbox: \"b\"\n"},
    {"a variable set from code is not understood, and forgotten",
     "B = 'a'\nB = ENV['BOX']\nVagrant.configure(\"2\") do |c|\n c.vm.box = B\nend\n",
     "error: 'Vagrantfile' sets no box (config.vm.box)"},
    {"strings join with + and side by side",
     "P = 'ab'\nVagrant.configure(\"2\") do |c|\n c.vm.box = P + 'c' 'd'\nend\n",
     "box: \"abcd\"\n"},
    {"an inner block's parameter shadows the outer one",
     "Vagrant.configure(\"2\") do |config|\n config.vm.box = 'b'\n config.vm.define :web do "
     "|config|\n"
     "  config.vm.hostname = 'w'\n end\nend\n",
     "machines:\n  web:\n    hostname: \"w\"\n"},
    {"an unclosed block and a stray end do not crash",
     "end\nVagrant.configure(\"2\") do |c|\n c.vm.box = 'b'\n c.vm.define 'x' do |x|\n",
     "#   line 1: end"},
    {"a provider override of libvirt is taken, of virtualbox noted",
     "Vagrant.configure(\"2\") do |c|\n c.vm.box = 'b'\n c.vm.provider :libvirt do |lv, o|\n"
     "  o.vm.box = 'lv'\n end\n c.vm.provider :virtualbox do |vb, o|\n  o.vm.box = 'vb'\n "
     "end\nend\n",
     "#       set only for the virtualbox provider\n\nbox: \"lv\"\n"},
};

/* A Vagrantfile line quoted in the header comment cannot end the comment
 * early, whatever bytes it holds. */
static void test_hostile_comments(void)
{
        static const char *const lines[] = {
            "c.foo = 1 \xe2\x80\xa8"
            "box: evil",
            "c.foo = 1 \xc2\x85"
            "box: evil",
            "c.foo = 1 \rbox: evil",
            "c.foo = \xff\xfe \xed\xa0\x80",
            "c.foo = \xef\xbf\xbe\x01",
        };

        for (size_t i = 0; i < VMENV_ARRAY_SIZE(lines); i++) {
                _cleanup_free_ char *text = vmenv_strdupf(
                    "Vagrant.configure(\"2\") do |c|\n c.vm.box = 'b'\n %s\nend\n", lines[i]);
                _cleanup_free_ char *yaml = literal(text);
                if (!ok(!strncmp(yaml, "# vmenv.yaml", 12) && strstr(yaml, "\nbox: \"b\"\n"),
                        "hostile line %zu stays inside its comment", i))
                        printf("# got:\n%s\n", yaml);
        }
}

static void test_literal(void)
{
        for (size_t i = 0; i < VMENV_ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *yaml = literal(cases[i].vagrantfile);
                if (!ok(strstr(yaml, cases[i].want) != NULL, "literal: %s", cases[i].what))
                        printf("# want (in): %s\n# got:\n%s\n", cases[i].want, yaml);
        }
}

int main(void)
{
        test_text_round_trip();
        test_literal();
        test_hostile_comments();
        return done_testing();
}
