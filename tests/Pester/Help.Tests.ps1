#Requires -Version 7.4
<#
    Help of the built module (out/L2tp): every cmdlet L2tp.psd1 exports has real help (MAML from en-US/docs, made by
    src/L2tp.HelpGen), and what the help says about each parameter is what the cmdlet really has. No root, no
    network namespaces: Get-Help and Get-Command only.
#>

BeforeDiscovery {
    $manifest = Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'
    # Discovery needs the real cmdlets, to make one test per parameter.
    Import-Module $manifest -Force -ErrorAction Stop
    $common = [System.Management.Automation.PSCmdlet]::CommonParameters
    $cmdletCases = foreach ($name in (Import-PowerShellDataFile $manifest).CmdletsToExport) {
        $command = Get-Command -Module L2tp -Name $name -CommandType Cmdlet -ErrorAction SilentlyContinue
        @{
            Name       = $name
            Parameters = @(if ($command) {
                    $command.Parameters.Values | Where-Object Name -NotIn $common | ForEach-Object { @{ Cmdlet = $name; Parameter = $_.Name } }
                })
        }
    }
}

BeforeAll {
    $manifest = Join-Path $PSScriptRoot '../../out/L2tp/L2tp.psd1'
    Import-Module $manifest -Force -ErrorAction Stop
    $script:Common = [System.Management.Automation.PSCmdlet]::CommonParameters

    # Text of a help description element (an array of paragraphs with a Text property), or '' when there is none.
    function Get-HelpText($Node) {
        if ($null -eq $Node) { return '' }
        ((@($Node) | ForEach-Object { if ($_.PSObject.Properties['Text']) { $_.Text } else { "$_" } }) -join "`n").Trim()
    }

    # What platyPS writes for a parameter's pipeline input, from its real metadata.
    function Get-PipelineText($SetMetadata) {
        $kinds = @(if ($SetMetadata.ValueFromPipeline) { 'ByValue' }; if ($SetMetadata.ValueFromPipelineByPropertyName) { 'ByPropertyName' })
        if ($kinds.Count -eq 0) { 'False' } else { "True ($($kinds -join ', '))" }
    }
}

Describe 'Help of <Name>' -ForEach $cmdletCases {
    BeforeAll {
        $command = Get-Command -Module L2tp -Name $Name -CommandType Cmdlet
        $help = Get-Help -Name $Name -Full
        $documented = @($help.parameters.parameter | Where-Object { $_ })
    }

    It 'is exported by the module as a cmdlet' {
        $command | Should -Not -BeNullOrEmpty -Because 'L2tp.psd1 exports it'
    }

    It 'comes from the module''s MAML help file' {
        $help.Category | Should -Be 'Cmdlet'
        $help.ModuleName | Should -Be 'L2tp'
        # Without a help file Get-Help makes up help whose synopsis is the syntax and which has no description.
        $help.description | Should -Not -BeNullOrEmpty -Because "en-US/L2tp.dll-Help.xml should describe $Name"
    }

    It 'has a synopsis of its own, not the generated syntax line' {
        $synopsis = "$($help.Synopsis)".Trim()
        $synopsis | Should -Not -BeNullOrEmpty
        $synopsis | Should -Not -Match "^$([regex]::Escape($Name))(\s|$)" -Because 'Get-Help writes the syntax as synopsis when there is no help'
        $synopsis | Should -Not -Match '<CommonParameters>|\{\{'
        $synopsis.Length | Should -BeGreaterThan 20
    }

    It 'has a description' {
        $text = Get-HelpText $help.description
        $text.Length | Should -BeGreaterThan 80
        $text | Should -Not -Match '\{\{'
    }

    It 'has at least two examples, each with code and text' {
        $examples = @($help.examples.example | Where-Object { $_ })
        $examples.Count | Should -BeGreaterOrEqual 2
        foreach ($e in $examples) {
            "$($e.code)".Trim() | Should -Not -BeNullOrEmpty -Because "$($e.title) needs code"
            "$($e.code)" | Should -Match ([regex]::Escape($Name)) -Because "$($e.title) should use $Name"
            Get-HelpText $e.remarks | Should -Not -BeNullOrEmpty -Because "$($e.title) needs text saying what it does"
        }
    }

    It 'documents no parameter the cmdlet does not have' {
        $real = @($command.Parameters.Keys)
        @($documented.name | Where-Object { $_ -notin $real }) | Should -BeNullOrEmpty
    }

    It 'shows every parameter in its syntax' {
        $inSyntax = @($help.syntax.syntaxItem.parameter.name | Select-Object -Unique)
        $real = @($command.Parameters.Keys | Where-Object { $_ -notin $Common })
        @($real | Where-Object { $_ -notin $inSyntax }) | Should -BeNullOrEmpty
    }

    It 'documents the types it writes' {
        $declared = @($command.OutputType.Name | Where-Object { $_ -and $_ -ne 'System.Void' })
        $outputs = @($help.returnValues.returnValue.type.name | Where-Object { $_ })
        if ($declared.Count -eq 0) { $outputs | Should -Be @('None') }
        else { foreach ($t in $declared) { $outputs | Should -Contain $t } }
    }

    Context 'parameter -<Parameter>' -ForEach $Parameters {
        BeforeAll {
            # $command and $documented come from the Describe block of the same cmdlet.
            $real = $command.Parameters[$Parameter]
            $set = $real.ParameterSets.Values | Select-Object -First 1
            $doc = $documented | Where-Object name -EQ $Parameter
        }

        It 'has a section with a description' {
            $doc | Should -Not -BeNullOrEmpty -Because "help of $Cmdlet should document -$Parameter"
            Get-HelpText $doc.description | Should -Not -BeNullOrEmpty
        }

        It 'has the real type, required, position, pipeline input and aliases' {
            $doc | Should -Not -BeNullOrEmpty
            $type = $real.ParameterType
            if ([Nullable]::GetUnderlyingType($type)) { $type = [Nullable]::GetUnderlyingType($type) }
            $doc.type.name | Should -BeIn @($type.Name, $type.FullName) -Because 'the documented type'
            $doc.required | Should -Be ($set.IsMandatory.ToString().ToLowerInvariant()) -Because 'Required'
            $position = if ($set.Position -eq [int]::MinValue) { 'named' } else { "$($set.Position)" }
            $doc.position | Should -Be $position -Because 'Position'
            $doc.pipelineInput | Should -Be (Get-PipelineText $set) -Because 'Accept pipeline input'
            $aliases = @("$($doc.aliases)" -split ',\s*' | Where-Object { $_ -and $_ -ne 'none' } | Sort-Object)
            $aliases | Should -Be @($real.Aliases | Sort-Object) -Because 'Aliases'
        }
    }
}

Describe 'about_L2tp' {
    It 'Get-Help about_L2tp shows the topic' {
        $text = Get-Help about_L2tp | Out-String
        $text | Should -Match 'about_L2tp'
        foreach ($part in 'SHORT DESCRIPTION', 'CONCEPTS', 'EXAMPLES', 'INTEROPERABILITY', 'MTU AND FRAGMENTATION', 'TROUBLESHOOTING') {
            $text | Should -Match $part
        }
    }

    It 'is found by its name among the help topics' {
        $topic = Get-Help -Name 'about_L2t*' -Category HelpFile | Where-Object Name -EQ 'about_L2tp'
        $topic | Should -Not -BeNullOrEmpty
        "$($topic.Synopsis)" | Should -Match 'L2TPv3'
    }
}
